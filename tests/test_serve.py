"""`semhash serve` through FastAPI's TestClient: every endpoint, every bad request, the text
page, reloading after `index`, and that serving writes nothing into the collection."""

from __future__ import annotations

import io
import json
import shutil
import socket

import numpy as np
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from PIL import Image

from semantic_hashing.cli import cli
from semantic_hashing.indexer.pipeline import index_folder
from semantic_hashing.query import api
from semantic_hashing.server import create_app
from semantic_hashing.server.routes import MAX_UPLOAD

from .conftest import fast_options, free_port, make_corpus, make_image_folder, png_claiming_size


def snapshot(folder):
    """Every file below a collection folder with its size and modification time."""
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}  # fmt: skip


@pytest.fixture(scope="module")
def client(collection):
    with TestClient(create_app([collection]), raise_server_exceptions=False) as c:
        yield c


@pytest.fixture(scope="module")
def first_file(collection):
    with api.open(collection) as coll:
        return coll.item(0)["path"]


def upload(client, data: bytes, name="q.png", **fields):
    files = {"image": (name, data, "image/png")}
    return client.post("/api/collections/tiny/search", files=files, data=fields)


def assert_sentence(resp, status):
    assert resp.status_code == status, resp.text
    detail = resp.json()["detail"]
    assert isinstance(detail, str) and detail.endswith(".") and "Traceback" not in detail
    assert "\n" not in detail
    return detail


def test_collections_and_info(client, collection):
    listed = client.get("/api/collections").json()
    assert [c["name"] for c in listed] == ["tiny"]
    info = client.get("/api/collections/tiny").json()
    assert info == listed[0]
    assert info["kind"] == "image" and info["bits"] == 16 and info["items"] == 120
    assert info["default_strategy"] == "flat" and info["labels"] == 3
    assert info["model_type"] and info["model_fingerprint"]


def test_upload_gives_what_search_json_prints(client, collection, first_file):
    resp = upload(client, open(first_file, "rb").read(), k="5")
    assert resp.status_code == 200, resp.text
    got = resp.json()
    cli_out = CliRunner().invoke(cli, ["search", str(collection), "--query", first_file, "-k", "5",
                                       "--json", "-q"])  # fmt: skip
    assert cli_out.exit_code == 0, cli_out.output
    want = json.loads(cli_out.output)
    assert got["results"] == want["results"] and len(got["results"]) == 5
    assert got["results"][0]["distance"] == 0 and got["method"] == "hamming"
    assert 0 in [h["id"] for h in got["results"] if h["distance"] == 0]


def test_search_by_id_radius_baseline_strategy(client, collection):
    with api.open(collection) as coll:
        by_id = coll.search(id=7, k=4).to_dict()
        within = coll.search(id=7, k=200, radius=2).to_dict()
        raw = coll.search(id=7, k=3, baseline="raw").to_dict()
        hashed = coll.search(id=7, k=4, strategy="hash").to_dict()
        finer = coll.search(id=7, k=5, asymmetric=True).to_dict()
    url = "/api/collections/tiny/search"
    assert client.post(url, json={"id": 7, "k": 4}).json()["results"] == by_id["results"]
    got = client.post(url, json={"id": 7, "k": 200, "radius": 2}).json()
    assert got["results"] == within["results"]
    assert all(h["distance"] <= 2 for h in got["results"])
    got = client.post(url, json={"id": 7, "k": 3, "baseline": "raw"}).json()
    assert got["results"] == raw["results"] and got["method"] == "raw-l2"
    got = client.post(url, json={"id": 7, "k": 4, "strategy": "hash"}).json()
    assert got["results"] == hashed["results"]
    got = client.post(url, json={"id": 7, "k": 5, "asymmetric": True}).json()
    assert got["results"] == finer["results"] and got["method"] == "hamming+asymmetric"
    form = client.post(url, data={"id": "7", "k": "4", "radius": ""})  # the page's form
    assert form.json()["results"] == by_id["results"]


def test_item_and_thumbnail(client, collection):
    row = client.get("/api/collections/tiny/items/3").json()
    assert row["id"] == 3 and row["label"] and row["path"].endswith(".png")
    resp = client.get("/api/collections/tiny/items/3/thumbnail")
    assert resp.status_code == 200 and resp.headers["content-type"] == "image/png"
    img = Image.open(io.BytesIO(resp.content))
    assert img.size == (28, 28)  # never enlarged beyond the file
    small = Image.open(io.BytesIO(client.get("/api/collections/tiny/items/3/thumbnail?size=16")
                                  .content))  # fmt: skip
    assert max(small.size) == 16


def test_thumbnail_of_a_gone_file_comes_from_the_stored_input(tmp_path, collection):
    folder = make_image_folder(tmp_path / "imgs", per_class=3, seed=4)
    opts = fast_options()
    opts.model_path = collection / "model.pt"
    path = tmp_path / "gone.semhash"
    index_folder(folder, path, opts)
    with api.open(path) as coll:
        victim = coll.item(0)["path"]
        want = Image.open(victim).convert("L").resize((64, 64), Image.Resampling.NEAREST)
    (tmp_path / "imgs" / victim.split("/imgs/")[1]).unlink()
    with TestClient(create_app([path])) as c:
        resp = c.get("/api/collections/gone/items/0/thumbnail?size=64")
    assert resp.status_code == 200
    got = Image.open(io.BytesIO(resp.content))
    assert got.size == (64, 64) and (np.asarray(got.convert("L")) == np.asarray(want)).all()


BAD_JSON = [
    ({"text": "stripes"}, 400, "image collection"),
    ({"id": 99999}, 404, "not in"),
    ({"id": 3, "k": 0}, 422, "k:"),
    ({"id": 3, "k": 100000}, 422, "k:"),
    ({"id": 3, "k": "many"}, 422, "k:"),
    ({"id": 3, "radius": -1}, 422, "radius:"),
    ({"id": 3, "radius": 17}, 400, "radius must be from 0"),
    ({"id": 3, "radius": 2, "baseline": "raw"}, 400, "radius applies to codes only"),
    ({"id": 3, "radius": 2, "strategy": "hnsw"}, 400, "hnsw"),
    ({"id": 3, "strategy": "kdtree"}, 422, "strategy:"),
    ({"id": 3, "baseline": "pca"}, 422, "baseline:"),
    ({"id": 3, "asymmetric": True, "baseline": "raw"}, 400, "does not apply to --baseline"),
    ({"id": 3, "asymmetric": "maybe"}, 422, "asymmetric:"),
    ({"id": 3, "colour": "red"}, 422, "colour:"),
    ({"id": 3, "text": "both"}, 400, "exactly one"),
    ({}, 400, "exactly one"),
]


@pytest.mark.parametrize("body,status,words", BAD_JSON)
def test_bad_json_queries(client, body, status, words):
    detail = assert_sentence(client.post("/api/collections/tiny/search", json=body), status)
    assert words in detail


def test_bad_uploads(client, tmp_path, first_file):
    assert "cannot be read" in assert_sentence(upload(client, b"not an image at all"), 400)
    good = open(first_file, "rb").read()
    assert "cannot be read" in assert_sentence(upload(client, good[: len(good) // 2]), 400)
    bomb = tmp_path / "bomb.png"
    png_claiming_size(bomb, 30000, 30000)
    assert "too large" in assert_sentence(upload(client, bomb.read_bytes()), 400)
    assert "empty" in assert_sentence(upload(client, b""), 400)
    huge = upload(client, b"\x89PNG" + bytes(MAX_UPLOAD))
    assert "larger than 20 MB" in assert_sentence(huge, 413)
    wrong_field = client.post("/api/collections/tiny/search",
                              files={"picture": ("q.png", good, "image/png")})  # fmt: skip
    assert "field 'image'" in assert_sentence(wrong_field, 400)
    both = upload(client, good, id="3")
    assert "exactly one" in assert_sentence(both, 400)
    assert "k:" in assert_sentence(upload(client, good, k="-3"), 422)


def test_bad_bodies_and_unknown_names(client):
    url = "/api/collections/tiny/search"
    assert "not valid JSON" in assert_sentence(
        client.post(url, content=b"{nope", headers={"content-type": "application/json"}), 400
    )
    assert "JSON object" in assert_sentence(client.post(url, json=[1, 2]), 400)
    assert "multipart" in assert_sentence(
        client.post(url, content=b"x", headers={"content-type": "text/plain"}), 415
    )
    broken = client.post(url, content=b"--zz\r\nbroken",
                         headers={"content-type": "multipart/form-data; boundary=zz"})  # fmt: skip
    assert broken.status_code == 400
    for path in ("/api/collections/nope", "/api/collections/nope/items/1",
                 "/api/collections/nope/items/1/thumbnail"):  # fmt: skip
        assert "no collection named 'nope'" in assert_sentence(client.get(path), 404)
    assert "no collection" in assert_sentence(client.post("/api/collections/nope/search",
                                                          json={"id": 1}), 404)  # fmt: skip
    assert "not in" in assert_sentence(client.get("/api/collections/tiny/items/99999"), 404)
    assert "not in" in assert_sentence(
        client.get("/api/collections/tiny/items/99999/thumbnail"), 404
    )
    assert "item_id:" in assert_sentence(client.get("/api/collections/tiny/items/abc"), 422)
    assert "size must be" in assert_sentence(
        client.get("/api/collections/tiny/items/1/thumbnail?size=5000"), 400
    )
    # no file is ever served by a path from the request
    sneaky = client.get("/api/collections/tiny/items/..%2F..%2Fetc%2Fpasswd")
    assert sneaky.status_code in (404, 422) and "root:" not in sneaky.text
    assert client.get("/static/..%2F..%2Fapp.py").status_code == 404
    assert client.get("/api/collections/tiny").status_code == 200  # still serving


def test_page_and_docs(client):
    page = client.get("/")
    assert page.status_code == 200 and 'data-collection="tiny"' in page.text
    assert 'id="drop"' in page.text and "16 bits" in page.text and "120" in page.text
    assert client.get("/?c=nope").status_code == 200  # an unknown pick shows the first one
    assert client.get("/static/app.js").status_code == 200
    assert client.get("/static/style.css").status_code == 200
    assert client.get("/docs").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    item = "/api/collections/{name}/items/{item_id}"
    assert set(paths) == {
        "/api/collections", "/api/collections/{name}", "/api/collections/{name}/search",
        item, f"{item}/thumbnail", "/api/collections/{name}/items",
        "/api/collections/{name}/duplicates", "/api/collections/{name}/outliers",
        f"{item}/code", f"{item}/outlier", f"{item}/reconstruction",
        f"{item}/reconstruction.png", f"{item}/document", f"{item}/file",
    }  # fmt: skip
    body = paths["/api/collections/{name}/search"]["post"]["requestBody"]["content"]
    assert set(body) == {"application/json", "multipart/form-data"}


@pytest.fixture(scope="module")
def text_collection(tmp_path_factory):
    corpus = make_corpus(tmp_path_factory.mktemp("docs"))
    path = tmp_path_factory.mktemp("tc") / "news.semhash"
    index_folder(corpus, path, fast_options(epochs=30, bits=16))
    return path


def test_text_collection(text_collection, collection, first_file):
    with TestClient(create_app([text_collection, collection]), raise_server_exceptions=False) as c:
        assert [x["name"] for x in c.get("/api/collections").json()] == ["news", "tiny"]
        url = "/api/collections/news/search"
        got = c.post(url, json={"text": "rocket launch orbit nasa", "k": 5}).json()
        assert len(got["results"]) == 5 and got["query"] == "rocket launch orbit nasa"
        assert sum(h["label"] == "space" for h in got["results"]) >= 4
        raw = c.post(url, json={"text": "rocket launch orbit", "baseline": "raw"}).json()
        assert raw["method"] == "tfidf-cosine"
        row = c.get(f"/api/collections/news/items/{got['results'][0]['id']}").json()
        assert row["title"].startswith("post") and len(row["preview"]) > 20
        assert "Newsgroups:" not in row["preview"]  # the header is not shown
        thumb = c.get(f"/api/collections/news/items/{row['id']}/thumbnail")
        assert Image.open(io.BytesIO(thumb.content)).size == (128, 128)
        files = {"image": ("q.png", open(first_file, "rb").read(), "image/png")}
        assert "text collection" in assert_sentence(c.post(url, files=files), 400)
        assert "nothing to search" in assert_sentence(c.post(url, json={"text": "the and"}), 400)
        page = c.get("/?c=news").text
        assert 'id="text-form"' in page and 'data-kind="text"' in page


def test_reloads_after_index_and_writes_nothing(tmp_path, collection):
    folder = make_image_folder(tmp_path / "imgs", per_class=4, seed=5)
    opts = fast_options()
    opts.model_path = collection / "model.pt"
    path = tmp_path / "live.semhash"
    index_folder(folder, path, opts)
    before = snapshot(path)
    with TestClient(create_app([path])) as c:
        assert c.get("/api/collections/live").json()["items"] == 12
        for body in ({"id": 1}, {"id": 2, "strategy": "hash"}, {"id": 3, "baseline": "raw"}):
            assert c.post("/api/collections/live/search", json=body).status_code == 200
        c.get("/api/collections/live/items/1/thumbnail")
        assert snapshot(path) == before  # serving wrote nothing, not even a hash index
        make_image_folder(tmp_path / "imgs" / "more", per_class=2, seed=6)
        index_folder(folder, path, opts)  # an `index` run while serving
        assert c.get("/api/collections/live").json()["items"] == 18
        assert c.get("/api/collections/live/items/15").json()["path"].endswith("-001.png")
        new = c.post("/api/collections/live/search", json={"id": 15, "radius": 0}).json()
        assert 15 in [h["id"] for h in new["results"]]


def test_requests_during_an_index_run_are_answered(tmp_path, collection):
    import threading

    folder = make_image_folder(tmp_path / "imgs", per_class=4, seed=7)
    opts = fast_options()
    opts.model_path, opts.chunk_size = collection / "model.pt", 2
    path = tmp_path / "busy.semhash"
    index_folder(folder, path, opts)
    query = sorted(folder.rglob("*.png"))[0].read_bytes()
    make_image_folder(tmp_path / "imgs" / "more", per_class=4, seed=8)
    with TestClient(create_app([path]), raise_server_exceptions=False) as c:
        run = threading.Thread(target=index_folder, args=(folder, path, opts))
        run.start()
        answers = []
        while run.is_alive() or len(answers) < 5:
            answers.append(c.post("/api/collections/busy/search", json={"id": len(answers) % 12}))
            files = {"image": ("q.png", query, "image/png")}
            answers.append(c.post("/api/collections/busy/search", files=files))
        run.join()
        assert [r.status_code for r in answers] == [200] * len(answers)
        assert all(r.json()["results"] for r in answers)
        assert c.get("/api/collections/busy").json()["items"] == 24


def test_serve_refuses_bad_options(collection, tmp_path):
    def run(*args):
        return CliRunner().invoke(cli, ["serve", *map(str, args)])

    for port in ("0", "70000"):
        result = run(collection, "--port", port)
        assert result.exit_code == 1 and "--port must be from 1 to 65535" in result.output
    result = run(tmp_path / "nothing.semhash")
    assert result.exit_code == 1 and "is not a semhash collection" in result.output
    assert run().exit_code == 2  # click: a collection is required
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        result = run(collection, "--port", taken.getsockname()[1])
    assert result.exit_code == 1 and "cannot listen on 127.0.0.1" in result.output
    copy = tmp_path / "b" / "tiny.semhash"
    shutil.copytree(collection, copy)
    names = list(create_app([collection, copy]).state.served.collections)
    assert names == ["tiny", "tiny-2"]


def test_bench_serve_runs_and_reports(collection, tmp_path):
    """The benchmark's plumbing on the tiny collection (its numbers are not judged here)."""
    result = CliRunner().invoke(cli, ["bench-serve", str(collection), "--requests", "5",
                                      "--clients", "2", "--concurrent-requests", "6",
                                      "--cli-runs", "1", "--out", str(tmp_path), "-q"])  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "serve-bench.json").read_text())
    assert report["sequential"]["requests"] == 5 and report["concurrent"]["requests"] == 6
    assert report["cli"]["runs"] == 1 and report["speedup"] > 0
    assert set(report["targets"]) == {"p50_ms", "p99_ms", "throughput_rps", "speedup"}
    assert "one-shot `semhash search`" in (tmp_path / "serve-bench.md").read_text()
    bad = CliRunner().invoke(cli, ["bench-serve", str(collection), "--clients", "0"])
    assert bad.exit_code == 2 and "--clients must be at least 1" in bad.output


def test_raw_baseline_index_is_kept_per_array_and_exact():
    import gc

    from semantic_hashing.retrieval.kinds import image as baselines

    rng = np.random.default_rng(3)
    raw = rng.integers(0, 256, (300, 49), dtype=np.uint8)
    q = raw[[5, 77]]
    brute = np.sqrt((((raw[None] / 255.0) - (q[:, None] / 255.0)) ** 2).sum(-1))
    for _ in range(2):  # built once, then reused: the same exact answer
        D, I = baselines.raw_l2(raw, q, 4)
        assert (I[:, 0] == [5, 77]).all()
        assert np.allclose(D, np.take_along_axis(brute, I, 1), atol=1e-4)
        assert np.allclose(np.sort(brute, 1)[:, :4], D, atol=1e-4)
    key = id(raw)
    assert key in baselines._FLAT
    del raw
    gc.collect()
    assert key not in baselines._FLAT  # dropped with its array


def test_serve_warns_off_loopback(collection, monkeypatch, caplog):
    import faiss
    import torch
    import uvicorn

    from semantic_hashing.server import run

    ran, ready = [], []
    monkeypatch.setattr(uvicorn.Server, "run", lambda self, sockets: ran.append(sockets))
    threads, omp = torch.get_num_threads(), faiss.omp_get_max_threads()
    try:
        run.serve(
            [collection], "0.0.0.0", free_port(), on_ready=lambda url, names: ready.append(url)
        )
    finally:  # serve() puts this process's math on one thread
        torch.set_num_threads(threads)
        faiss.omp_set_num_threads(omp)
    assert "not on loopback" in caplog.text and len(ran) == 1
    assert ready[0].startswith("http://0.0.0.0:")
    assert run.is_loopback("127.0.0.1") and run.is_loopback("::1") and run.is_loopback("localhost")
    assert not run.is_loopback("0.0.0.0") and not run.is_loopback("example.org")
