"""The workspace of `semhash serve` through FastAPI's TestClient: every page at its own
URL, the JSON API of browsing with every new parameter and its bad values, the files it
serves (and those it refuses), Host checks, and a metadata database that is down."""

from __future__ import annotations

import html
import io
import os

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from semantic_hashing.indexer.pipeline import index_folder
from semantic_hashing.query import api
from semantic_hashing.query.dedup import find_duplicates
from semantic_hashing.server import create_app

from .conftest import fast_options, make_corpus

API = "/api/collections/tiny"


@pytest.fixture(scope="module")
def client(collection):
    with TestClient(create_app([collection]), raise_server_exceptions=False) as c:
        yield c


@pytest.fixture(scope="module")
def texts(tmp_path_factory):
    corpus = make_corpus(tmp_path_factory.mktemp("docs"), per_topic=12)
    path = tmp_path_factory.mktemp("tc") / "news.semhash"
    index_folder(corpus, path, fast_options(epochs=20, bits=16))
    return path


def sentence(resp, status):
    assert resp.status_code == status, resp.text
    detail = resp.json()["detail"]
    assert isinstance(detail, str) and detail.endswith(".") and "\n" not in detail
    return detail


def test_items_in_pages_sorted(client, collection):
    with api.open(collection) as coll:
        rows = [coll.item(i) for i in range(len(coll))]
    page = client.get(f"{API}/items?offset=10&limit=5").json()
    assert page["total"] == 120 and [r["id"] for r in page["items"]] == list(range(10, 15))
    by_path = client.get(f"{API}/items?sort=path&order=desc&limit=4").json()["items"]
    assert [r["path"] for r in by_path] == sorted((r["path"] for r in rows), reverse=True)[:4]
    added = client.get(f"{API}/items?sort=added&limit=120").json()["items"]
    assert [r["added_at"] for r in added] == sorted(r["added_at"] for r in added)
    worst = client.get(f"{API}/items?sort=outlier&order=desc&limit=5").json()["items"]
    with api.open(collection) as coll:
        assert [r["id"] for r in worst] == [o.id for o in coll.outliers(5)]
    assert worst[0]["percentile"] == 100.0 and worst[0]["score"] >= worst[-1]["score"]
    # once the scores are known, every page carries them
    assert "percentile" in client.get(f"{API}/items?limit=1").json()["items"][0]
    assert client.get(f"{API}/items?offset=500").json()["items"] == []


BAD_PARAMS = [
    ("/items?offset=-1", "offset:"),
    ("/items?offset=99999999999", "offset:"),
    ("/items?limit=0", "limit:"),
    ("/items?limit=501", "limit:"),
    ("/items?sort=size", "sort:"),
    ("/items?order=up", "order:"),
    ("/outliers?limit=9999", "limit:"),
    ("/duplicates?threshold=1.5", "threshold:"),
    ("/duplicates?threshold=abc", "threshold:"),
    ("/duplicates?keep=newest", "keep:"),
    ("/duplicates?least=1000", "least:"),
    ("/items/-3/code", "item_id:"),
    ("/items/9223372036854775808", "item_id:"),
    ("/items/3/thumbnail?size=abc", "size:"),
    ("/items/3/reconstruction.png?size=4000", "size:"),
]


@pytest.mark.parametrize("path,words", BAD_PARAMS)
def test_bad_parameters_are_one_sentence(client, path, words):
    assert words in sentence(client.get(API + path), 422)


def test_search_pages_with_offset(client, collection):
    url = f"{API}/search"
    whole = client.post(url, json={"id": 7, "k": 30}).json()["results"]
    page2 = client.post(url, json={"id": 7, "k": 10, "offset": 10}).json()
    assert page2["results"] == whole[10:20] and page2["offset"] == 10
    form = client.post(url, data={"id": "7", "k": "10", "offset": "20"}).json()["results"]
    assert form == whole[20:30]
    raw = client.post(url, json={"id": 7, "k": 5, "offset": 5, "baseline": "raw"}).json()
    with api.open(collection) as coll:
        assert raw["results"] == coll.search(id=7, k=10, baseline="raw").to_dict()["results"][5:]
    assert "offset:" in sentence(client.post(url, json={"id": 7, "offset": -1}), 422)
    assert "offset + k must be at most 1000" in sentence(
        client.post(url, json={"id": 7, "k": 100, "offset": 950}), 422
    )
    assert "id:" in sentence(client.post(url, json={"id": -5}), 422)
    assert "id:" in sentence(client.post(url, json={"id": 2**64}), 422)


def test_duplicates_regroup_at_any_threshold(client, collection):
    with api.open(collection) as coll:
        for threshold, keep in ((None, "first"), (0.8, "largest"), (0.97, "oldest")):
            q = f"?limit=500&keep={keep}" + (f"&threshold={threshold}" if threshold else "")
            got = client.get(f"{API}/duplicates{q}").json()
            want = find_duplicates(coll.store, threshold=threshold, keep=keep)
            strip = [{"keep": {k: v for k, v in g["keep"].items() if k in ("id", "path", "label")},
                      "duplicates": [{k: v for k, v in d.items() if k not in ("role", "sha256")}
                                     for d in g["duplicates"]]} for g in got["groups"]]  # fmt: skip
            assert strip == [g.to_dict() for g in want]
            assert got["total_groups"] == len(want) and got["keep"] == keep
            for pair in got["least_similar"]:
                assert pair["similarity"] >= got["threshold"]
            sims = [p["similarity"] for p in got["least_similar"]]
            assert sims == sorted(sims)
    paged = client.get(f"{API}/duplicates?threshold=0.8&offset=1&limit=1").json()
    assert paged["offset"] == 1 and len(paged["groups"]) <= 1
    member = paged["groups"][0]["duplicates"][0] if paged["groups"] else None
    if member:
        assert len(member["sha256"]) == 64 and member["role"] == "duplicate"


def test_item_code_outlier_reconstruction_and_file(client, collection):
    with api.open(collection) as coll:
        row = coll.item(4)
        code = coll.store.index.codes_of([4])[0]
        score = coll.score(4)
    got = client.get(f"{API}/items/4/code").json()
    assert got == {"id": 4, "bits": 16, "hex": bytes(code).hex()}
    rank = client.get(f"{API}/items/4/outlier").json()
    assert rank["score"] == pytest.approx(score, rel=1e-4) and 0 < rank["percentile"] <= 100
    rec = client.get(f"{API}/items/4/reconstruction").json()
    assert rec["id"] == 4 and rec["score"] == pytest.approx(score, rel=1e-3)
    png = client.get(f"{API}/items/4/reconstruction.png?size=32")
    assert Image.open(io.BytesIO(png.content)).size == (4 * 32 + 3 * 4, 32)
    f = client.get(f"{API}/items/4/file")
    assert f.status_code == 200 and f.headers["content-type"] == "image/png"
    assert f.content == open(row["path"], "rb").read()
    assert "sandbox" in f.headers["content-security-policy"]
    assert "image collection" in sentence(client.get(f"{API}/items/4/document"), 400)


def test_files_are_served_by_id_only(tmp_path, collection):
    from .conftest import make_image_folder

    folder = make_image_folder(tmp_path / "imgs", per_class=2, seed=3)
    opts = fast_options()
    opts.model_path = collection / "model.pt"
    path = tmp_path / "few.semhash"
    index_folder(folder, path, opts)
    with api.open(path) as coll:
        gone, linked = coll.item(0)["path"], coll.item(1)["path"]
    os.unlink(gone)
    os.unlink(linked)
    os.symlink("/etc/passwd", linked)  # an item's file replaced by a link elsewhere
    with TestClient(create_app([path]), raise_server_exceptions=False) as c:
        assert "gone" in sentence(c.get("/api/collections/few/items/0/file"), 404)
        refused = c.get("/api/collections/few/items/1/file")
        assert refused.status_code == 404 and "root:" not in refused.text
        assert c.get("/api/collections/few/items/2/file").status_code == 200
        page = c.get("/c/few/item/0").text
        assert "the file is gone" in page and "/items/0/thumbnail?size=512" in page
        assert c.get("/api/collections/few/items/%2e%2e%2fetc/file").status_code in (404, 422)


def test_text_items_and_views(texts):
    with TestClient(create_app([texts]), raise_server_exceptions=False) as c:
        doc = c.get("/api/collections/news/items/3/document").json()
        assert doc["title"].startswith("post") and len(doc["text"]) > 50
        assert not doc["truncated"] and "Newsgroups:" not in doc["text"]
        f = c.get("/api/collections/news/items/3/file")
        assert f.headers["content-type"].startswith("text/plain") and b"Newsgroups:" in f.content
        rec = c.get("/api/collections/news/items/3/reconstruction").json()
        assert set(rec["words"]) == {"input", "corrupted", "reconstruction",
                                     "clean_reconstruction"}  # fmt: skip
        assert "words" in sentence(c.get("/api/collections/news/items/3/reconstruction.png"), 400)
        item = c.get("/c/news/item/3").text
        assert 'id="post"' in item and doc["text"][:40] in item and 'class="words"' in item
        found = c.get("/c/news?q=rocket+launch+orbit&k=5")
        assert found.status_code == 200 and found.text.count('class="card') == 5
        assert "rocket launch orbit" in found.text
        upload = c.post("/c/news/upload", data={"text": "flour butter oven " * 200, "k": "4"})
        assert upload.status_code == 200 and upload.text.count('class="card') == 4
        assert "cooking" in upload.text
        for view in ("duplicates", "outliers", "reconstructions"):
            assert c.get(f"/c/news/{view}").status_code == 200, view
        assert 'class="words"' in c.get("/c/news/reconstructions").text


def test_pages_each_at_their_address(client, collection):
    home = client.get("/", follow_redirects=False)
    assert home.status_code == 303 and home.headers["location"] == "/c/tiny"
    grid = client.get("/c/tiny?sort=path&page=2&per=24")
    assert grid.status_code == 200 and grid.text.count('class="card') == 24
    assert 'rel="next"' in grid.text and "page=3" in grid.text
    with api.open(collection) as coll:
        want = [h.id for h in coll.search(id=5, k=40).results][20:40]
    results = client.get("/c/tiny?q=id:5&page=2").text
    ids = [int(x.split('"')[1]) for x in results.split("data-id=")[1:]]
    assert [i for i in ids if i in want][:20] == want
    assert "ranks 21–40" in results
    both = client.get("/c/tiny?q=id:5&baseline=1&asym=1&k=6").text
    assert 'id="baseline-grid"' in both and "asymmetric" in both
    item = client.get("/c/tiny/item/5").text
    for words in ("item 5", "outlier score", "reconstruction.png", "nearest neighbours",
                  "/items/5/file", "search with this item"):  # fmt: skip
        assert words in item, words
    assert client.get("/c/tiny/duplicates?threshold=0.9&keep=largest").status_code == 200
    out = client.get("/c/tiny/outliers?page=2&per=12").text
    assert out.count('class="card') == 12 and "%" in out
    recon = client.get("/c/tiny/reconstructions?sort=outlier&order=desc").text
    assert recon.count('class="recon-row"') == 12
    part = client.get("/c/tiny/outliers", headers={"X-Semhash-Fragment": "1"}).text
    assert not part.lstrip().startswith("<!doctype") and 'id="view"' in part


BAD_PAGES = [
    ("/c/tiny?page=0", 422, "page:"),
    ("/c/tiny?per=100000", 422, "per:"),
    ("/c/tiny?q=id:5&k=0", 422, "k:"),
    ("/c/tiny?q=id:5&k=50&page=30", 422, "beyond the first 1000"),
    ("/c/tiny?q=id:5&radius=99", 422, "radius must be from 0 to 16"),
    ("/c/tiny?q=id:5&strategy=kdtree", 422, "strategy:"),
    ("/c/tiny?q=stripes", 400, "searched by example"),
    ("/c/tiny?q=id:99999", 404, "not in"),
    ("/c/tiny?q=id:99999999999999999999", 422, "out of range"),
    ("/c/tiny?q=id:%C2%B2", 400, "searched by example"),
    ("/c/tiny/item/99999", 404, "not in"),
    ("/c/tiny/item/-2", 422, "item_id:"),
    ("/c/tiny/duplicates?threshold=7", 422, "threshold:"),
    ("/c/nope", 404, "no collection named 'nope'"),
]


@pytest.mark.parametrize("path,status,words", BAD_PAGES)
def test_bad_page_addresses_are_a_sentence_on_a_page(client, path, status, words):
    resp = client.get(path)
    assert resp.status_code == status and resp.headers["content-type"].startswith("text/html")
    assert words in html.unescape(resp.text) and "Traceback" not in resp.text
    part = client.get(path, headers={"X-Semhash-Fragment": "1"})  # the script gets JSON
    assert words in sentence(part, status)


def test_links_are_relative_and_the_host_is_never_written(client):
    for path in ("/c/tiny", "/c/tiny?q=id:3", "/c/tiny/item/3", "/c/tiny/outliers",
                 "/c/tiny/item/99999"):  # fmt: skip
        page = client.get(path, headers={"Host": "evil.example:666"}).text
        assert "evil.example" not in page and "http://" not in page and "https://" not in page


def test_allowed_hosts(collection):
    app = create_app([collection], allowed_hosts=["127.0.0.1", "localhost", "::1", "*.lan"])
    with TestClient(app, raise_server_exceptions=False) as c:
        for host in ("127.0.0.1:8000", "localhost", "[::1]:8000", "photos.lan"):
            assert c.get("/api/collections", headers={"Host": host}).status_code == 200, host
        for host in ("evil.example", "127.0.0.2:8000", "lan", ""):
            resp = c.get("/c/tiny", headers={"Host": host})
            assert "allowed-hosts" in sentence(resp, 400)
            assert not host or host not in resp.text  # never echoed


def test_a_database_that_is_down_is_a_503(tmp_path, collection):
    from sqlalchemy import create_engine

    with TestClient(create_app([collection]), raise_server_exceptions=False) as c:
        coll = c.app.state.served.collections["tiny"]
        good = coll.store.meta.engine
        coll.store.meta.engine = create_engine(f"sqlite:///{tmp_path}/no/such/dir/x.sqlite")
        try:
            for path in (f"{API}/items/3", f"{API}/items?limit=3", "/c/tiny/item/3"):
                resp = c.get(path, headers={"X-Semhash-Fragment": "1"})
                assert "metadata database" in sentence(resp, 503), path
            assert c.get("/c/tiny/item/3").status_code == 503
        finally:
            coll.store.meta.engine = good
        assert c.get(f"{API}/items/3").status_code == 200  # back when it is


def test_a_costly_view_is_computed_in_the_background(collection, monkeypatch):
    import threading
    import time

    from semantic_hashing.query import browse
    from semantic_hashing.server import views

    monkeypatch.setattr(views, "WAIT_S", 0.05)
    real, gate = browse.Views.scores, threading.Event()

    def slow(self):
        gate.wait(30)
        return real(self)

    monkeypatch.setattr(browse.Views, "scores", slow)
    with TestClient(create_app([collection])) as c:
        first = c.get("/c/tiny/outliers")
        assert first.status_code == 202 and "Computing the outlier score" in first.text
        assert 'id="warming"' in first.text
        assert c.get("/c/tiny?q=id:3").status_code == 200  # the rest is answered meanwhile
        assert c.get("/c/tiny?sort=outlier").status_code == 202  # the same job, not another
        gate.set()
        deadline = time.monotonic() + 30
        while (page := c.get("/c/tiny/outliers")).status_code == 202:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert page.status_code == 200 and page.text.count('class="card') == 48


def test_a_group_is_selectable_whole_when_only_part_is_drawn(client, monkeypatch):
    import json

    from semantic_hashing.server import views

    monkeypatch.setattr(views, "SHOWN_PER_GROUP", 1)
    groups = client.get(f"{API}/duplicates?threshold=0.8&limit=5").json()["groups"]
    big = next(g for g in groups if len(g["duplicates"]) > 1)
    page = client.get("/c/tiny/duplicates?threshold=0.8&per=5").text
    block = page.split(f'data-keep="{big["keep"]["id"]}" data-members="', 1)[1]
    members = json.loads(html.unescape(block.split('"', 1)[0]))
    assert members == {str(d["id"]): d["sha256"] for d in big["duplicates"]}
    assert f"and {len(big['duplicates']) - 1} more" in page
