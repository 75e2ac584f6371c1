"""The features kind: photos through the real shipped efficientnet-lite0 weights (no
network), one code per file however it arrives, kinds that refuse each other in one
sentence, every job as its own process of the installed command, the missing extra, the
baselines, the page, PostgreSQL and Milvus, and outliers that catch blank frames and
screenshots among photos."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image, ImageDraw

from semantic_hashing.cli import cli
from semantic_hashing.indexer import api as store_api
from semantic_hashing.indexer.store import Store
from semantic_hashing.query import api
from semantic_hashing.query.search import id_queries, load_queries, object_query
from semantic_hashing.retrieval.backbones import BACKBONES
from semantic_hashing.retrieval.errors import SemhashError
from semantic_hashing.retrieval.kinds import choice, get_kind
from semantic_hashing.retrieval.kinds import features as fk

from .conftest import assert_user_error, make_image_folder

SEMHASH = Path(sys.executable).with_name("semhash")  # the installed command
SIZE = 64  # the backbone's input side in these tests (real use: 128)
MODULES = BACKBONES["efficientnet-lite0"].modules
installed = pytest.mark.skipif(
    not BACKBONES["efficientnet-lite0"].available(),
    reason="the 'features' extra (efficientnet-lite0) is not installed",
)
FAST = ["--features", "efficientnet-lite0", "--image-size", SIZE, "--bits", 16, "--epochs", 2]


def photo(path: Path, width: int, height: int, seed: int, hue: int) -> Path:
    """A smooth colour field leaning to one channel (`hue`), with a little seeded noise."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 160, (5, 7, 3)).astype(np.int16)
    small[..., hue] += 90
    img = Image.fromarray(small.clip(0, 255).astype(np.uint8)).resize(
        (width, height), Image.Resampling.BICUBIC
    )
    noisy = np.asarray(img, np.int16) + rng.integers(-6, 7, (height, width, 3), dtype=np.int16)
    Image.fromarray(noisy.clip(0, 255).astype(np.uint8)).save(path, quality=92)
    return path


def make_photos(root: Path, per_class: int = 5) -> Path:
    for hue, name in enumerate(("red", "green", "blue")):
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            photo(root / name / f"{name}-{i}.jpg", 96, 72, 100 * hue + i, hue)
    photo(root / "red" / "big.jpg", 400, 300, 7, 0)  # larger than the backbone's input
    return root


def no_network(mp: pytest.MonkeyPatch) -> None:
    """Any attempt to open a socket or resolve a name fails loudly."""

    def refuse(*args, **kwargs):
        raise AssertionError("the network was used")

    class NoSocket(socket.socket):
        def __init__(self, *args, **kwargs):
            refuse()

    mp.setattr(socket, "socket", NoSocket)
    mp.setattr(socket, "create_connection", refuse)
    mp.setattr(socket, "getaddrinfo", refuse)


def semhash(*args, ok: bool = True) -> subprocess.CompletedProcess:
    """One command as its own process of the installed `semhash`."""
    done = subprocess.run([str(SEMHASH), *map(str, args)], capture_output=True, text=True,
                          timeout=600)  # fmt: skip
    assert "Traceback" not in done.stderr, done.stderr
    if ok:
        assert done.returncode == 0, done.stderr
    else:
        assert done.returncode == 1, done.stderr
        last = done.stderr.strip().splitlines()[-1]
        assert last.startswith("Error: ") and last.count(". ") == 0, done.stderr
    return done


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> Path:
    return make_photos(tmp_path_factory.mktemp("photos"))


@pytest.fixture(scope="module")
def coll(tmp_path_factory, photos) -> Path:
    """A features collection, indexed with the network switched off."""
    if not BACKBONES["efficientnet-lite0"].available():
        pytest.skip("the 'features' extra is not installed")
    path = tmp_path_factory.mktemp("feat") / "photos.semhash"
    with pytest.MonkeyPatch.context() as mp:
        no_network(mp)
        store_api.index(photos, path, features="efficientnet-lite0", image_size=SIZE, bits=16,
                        epochs=2)  # fmt: skip
    return path


# -- rows, config, the registry -------------------------------------------------------------
def test_rows_pack_features_and_small_pixels():
    rng = np.random.default_rng(0)
    feats = rng.normal(2, 1, (3, 1280)).astype(np.float32)
    pixels = rng.integers(0, 256, (3, 3, fk.PIXELS, fk.PIXELS), dtype=np.uint8)
    rows = fk.pack(feats, pixels)
    assert rows.dtype == np.uint8 and rows.shape == (3, fk.row_width(1280))
    np.testing.assert_array_equal(fk.unpack_pixels(rows, 1280), pixels)
    np.testing.assert_allclose(fk.unpack_features(rows, 1280), feats, rtol=1e-3, atol=1e-3)
    kind = get_kind("features")
    np.testing.assert_allclose(kind.similarity(rows, rows), 1.0, atol=1e-5)  # small copies
    assert kind.similarity(rows[:1], rows[1:2])[0] < 0.5  # two different random pictures
    db, q, metric = kind.raw_features(rows, rows[:1])  # the raw row: pixels, Euclidean
    assert metric == "l2" and db.shape == (3, 3 * fk.PIXELS**2) and db.max() <= 1.0


def test_config_checks_and_families():
    from semantic_hashing.retrieval.families import build_model, family_config

    fp = {"name": "efficientnet-lite0", "input_size": 64, "dim": 1280,
          "weights_sha256": "x", "batch_size": 8}  # fmt: skip
    cfg = family_config("feature-dae", kind="features", bits=16, feature_dim=1280, backbone=fp)
    assert cfg.corruption == "gaussian" and cfg.code_layer == "noise"
    model = build_model(cfg)
    assert model.encoder[1].in_features == 1280  # Flatten, then the first layer
    for family in ("ae", "sparse-ae", "contractive-ae", "vae"):  # any-kind families fit too
        build_model(family_config(family, kind="features", bits=16, feature_dim=1280,
                                  backbone=fp))  # fmt: skip
    with pytest.raises(SemhashError, match="conv-dae is the image model"):
        family_config("conv-dae", kind="features", feature_dim=1280, backbone=fp)
    with pytest.raises(SemhashError, match="the shift corruption moves pixels"):
        family_config("ae", kind="features", feature_dim=1280, backbone=fp, corruption="shift")
    with pytest.raises(SemhashError, match="needs a known backbone"):
        family_config("feature-dae", kind="features", feature_dim=1280)


def test_baselines_come_from_the_kind():
    assert list(get_kind("features").baselines) == ["raw", "features"]
    assert list(get_kind("image").baselines) == ["raw"]
    with pytest.raises(SemhashError, match="--baseline features does not apply to a image"):
        get_kind("image").check_baseline("features")


def test_features_choice_resolves_per_folder(tmp_path, monkeypatch):
    gray = make_image_folder(tmp_path / "gray", per_class=2)
    color = make_image_folder(tmp_path / "color", per_class=2, rgb=True)
    paths = {f: sorted(f.rglob("*.png")) for f in (gray, color)}
    if BACKBONES["efficientnet-lite0"].available():
        assert choice.resolve("image", "auto", paths[color]) == ("features", "efficientnet-lite0")
    assert choice.resolve("image", "auto", paths[gray]) == ("image", "")
    assert choice.resolve("image", "pixels", paths[color]) == ("image", "")
    assert choice.resolve("text", "auto", []) == ("text", "")
    with pytest.raises(SemhashError, match="--features efficientnet-lite0 reads photos"):
        choice.resolve("text", "efficientnet-lite0", [])
    with pytest.raises(SemhashError, match="unknown --features"):
        choice.resolve("image", "resnet", [])


# -- the missing extra ------------------------------------------------------------------------
def test_missing_extra_is_one_sentence_and_creates_nothing(tmp_path, monkeypatch, caplog):
    for name in MODULES:  # a None entry makes `import name` raise ImportError
        monkeypatch.setitem(sys.modules, name, None)
    folder = make_image_folder(tmp_path / "color", per_class=4, rgb=True)
    coll = tmp_path / "c.semhash"
    for command in ("index", "train"):
        where = ["-c", coll] if command == "index" else ["--out", tmp_path / "m.pt"]
        res = invoke(command, folder, *where, "--features", "efficientnet-lite0")
        assert res.exit_code == 1
        assert_user_error(res, "pip install 'semantic-hashing[features]'")
        assert res.output.strip().count("\n") == 0  # one line
    assert not coll.exists() and not (tmp_path / "m.pt").exists()
    # the automatic default falls back to pixels, saying so once
    res = invoke("index", folder, "-c", coll, "--bits", 8, "--epochs", 1)
    assert res.exit_code == 0, res.output
    warned = [r for r in caplog.records if "semantic-hashing[features]" in r.getMessage()]
    assert len(warned) == 1 and "indexing by pixels" in warned[0].getMessage()
    assert json.loads((coll / "collection.json").read_text())["kind"] == "image"


# -- one file, one code -----------------------------------------------------------------------
@installed
def test_index_used_the_shipped_weights_offline(coll):
    info = json.loads((coll / "collection.json").read_text())
    assert info["kind"] == "features" and info["model_type"] == "feature-dae"
    fp = info["model"]["backbone"]
    assert fp == {"name": "efficientnet-lite0", "input_size": SIZE, "dim": 1280,
                  "weights_sha256": "579344248a93e230", "batch_size": 8}  # fmt: skip
    with Store.open(coll) as store:
        ids, rows = store.live_inputs()
        assert rows.shape == (16, fk.row_width(1280)) and rows.dtype == np.uint8


@installed
def test_one_jpeg_gets_one_code_however_it_arrives(coll, photos, tmp_path):
    big = photos / "red" / "big.jpg"
    with Store.open(coll) as store:
        item = next(r for r in store.meta.get(list(store.meta.labels())).values()
                    if r.path.endswith("big.jpg"))  # fmt: skip
        stored = store.inputs([item.id])
        code = store.index.codes_of([item.id])[0]
        folder = tmp_path / "q"
        shutil.copytree(photos / "red", folder)  # the file among others: batched passes
        ways = {"file": load_queries(store, big), "id": id_queries(store, [item.id]),
                "upload": object_query(store, big.read_bytes())}  # fmt: skip
        batch = load_queries(store, folder)
        ways["folder"] = type(batch)([big.name], batch.inputs[[n.endswith("big.jpg")
                                                               for n in batch.names]])  # fmt: skip
        for way, q in ways.items():
            np.testing.assert_array_equal(q.inputs, stored, err_msg=way)
            np.testing.assert_array_equal(store.encoder.encode(q.inputs)[0], code, err_msg=way)
    with api.open(coll) as c:  # the Python API: the path, and the file's bytes
        for query in (big, big.read_bytes(), Image.open(big)):
            hit = c.search(query, k=1).results[0]
            if not isinstance(query, Image.Image):  # a PIL image is re-encoded as PNG
                assert (hit.id, hit.distance) == (item.id, 0)


@installed
def test_pixels_and_features_refuse_each_other(coll, photos, tmp_path):
    pix_model = tmp_path / "pix.pt"
    assert invoke("train", photos, "--out", pix_model, "--features", "pixels", "--bits", 16,
                  "--epochs", 1).exit_code == 0  # fmt: skip
    res = invoke("index", photos, "-c", coll, "--model", pix_model)
    assert_user_error(res, "holds codes of a backbone's features and the model",
                      "makes codes of pixels; they cannot be compared")  # fmt: skip
    res = invoke("index", photos, "-c", coll, "--features", "pixels")
    assert_user_error(res, "holds codes of efficientnet-lite0 features, not of pixels")
    pix = tmp_path / "pix.semhash"
    assert invoke("index", photos, "-c", pix, "--model", pix_model).exit_code == 0
    res = invoke("index", photos, "-c", pix, "--model", coll / "model.pt", "--rebuild")
    assert_user_error(res, "holds codes of pixels and the model")
    res = invoke("dedup", coll, "--against", pix)
    assert_user_error(res, "is a image collection")
    with api.open(pix) as c:
        with pytest.raises(SemhashError, match="--baseline features does not apply"):
            c.search(photos / "red" / "big.jpg", baseline="features")


@installed
def test_reencoding_never_runs_the_backbone_again(photos, tmp_path, monkeypatch):
    """check --repair, training on the collection and --rebuild use the stored features."""
    coll = tmp_path / "re.semhash"
    store_api.index(photos, coll, features="efficientnet-lite0", image_size=SIZE, bits=16,
                    epochs=1)  # fmt: skip
    with Store.open(coll) as store:
        ids = store.live_inputs()[0]
        before = store.index.codes_of(ids)

    def refuse(*args, **kwargs):
        raise AssertionError("the backbone ran again")

    monkeypatch.setattr(fk, "extract", refuse)
    (coll / "codes.index").unlink()
    assert store_api.check(coll, repair=True)["repaired"]["codes rebuilt from stored inputs"] == 16
    with Store.open(coll) as store:
        np.testing.assert_array_equal(store.index.codes_of(ids), before)
    info = store_api.train(coll, tmp_path / "new.pt", bits=16, epochs=3)
    assert info["items"] == 16
    report = store_api.index(photos, coll, model=tmp_path / "new.pt", rebuild=True)
    assert report.added == report.changed == 0 and report.unchanged == 16
    with Store.open(coll) as store:
        assert store.info["model_fingerprint"] == info["fingerprint"] and len(store.index) == 16
        assert not store.meta.stale()


# -- every job, each its own process --------------------------------------------------------
@installed
def test_every_job_runs_on_a_features_collection(photos, tmp_path):
    coll, q = tmp_path / "jobs.semhash", photos / "red" / "big.jpg"
    out = semhash("index", photos, "-c", coll, *FAST, "-q").stdout
    assert "added 16" in out
    assert json.loads(semhash("info", coll, "--json").stdout)["kind"] == "features"
    hits = [json.loads(line) for line in semhash("search", coll, "--query", q, "--json", "-k",
                                                  3, "-q").stdout.splitlines()]  # fmt: skip
    assert hits[0]["results"][0]["path"].endswith("big.jpg")
    for how in (["--baseline", "raw"], ["--baseline", "features"]):
        got = json.loads(semhash("search", coll, "--query", q, "--json", "-k", 3, *how).stdout)
        assert got["baseline"]["results"][0]["path"].endswith("big.jpg"), how
    # the asymmetric re-rank orders the Hamming shortlist by the distance of the unquantised
    # query to each stored code: an item need not come first for itself (README)
    got = json.loads(semhash("search", coll, "--query", q, "--json", "-k", 3,
                             "--asymmetric").stdout)  # fmt: skip
    paths = [h["path"] for h in got["results"]]
    assert len(paths) == 3 and len(set(paths)) == 3  # test_asymmetric checks the order itself
    semhash("search", coll, "--query", photos / "green", "-k", 2, "--sheet", tmp_path / "s.png")
    assert (tmp_path / "s.png").is_file()
    ev = semhash("evaluate", coll, "--queries", photos).stdout
    assert "backbone features (cosine)" in ev and "raw pixels (L2)" in ev
    semhash("dedup", coll, "--json")
    top = semhash("outliers", coll, "--top", 3, "--json").stdout.splitlines()
    assert len(top) == 3 and json.loads(top[0])["score"] > 0
    rec = semhash("reconstruct", coll, "--id", 0).stdout
    assert "reconstruction error" in rec
    refused = semhash("reconstruct", coll, "--id", 0, "--sheet", tmp_path / "r.png", ok=False)
    assert "cannot be drawn as an image" in refused.stderr
    (coll / "codes.index").unlink()  # the codes come back from the stored features
    semhash("check", coll, "--repair")
    assert "ok" in semhash("check", coll).stdout
    semhash("train", coll, "--out", tmp_path / "m2.pt", "--bits", 16, "--epochs", 3)
    semhash("index", photos, "-c", coll, "--model", tmp_path / "m2.pt", "--rebuild")
    semhash("remove", coll, "--id", 1)
    assert json.loads(semhash("info", coll, "--json").stdout)["items"] == 15
    cuda = semhash("search", coll, "--query", q, "--device", "cuda", ok=False)
    assert "no GPU is available" in cuda.stderr


@installed
def test_the_page_and_json_api(coll, photos):
    from fastapi.testclient import TestClient

    from semantic_hashing.server import create_app

    name = coll.name.removesuffix(".semhash")
    with TestClient(create_app([coll]), raise_server_exceptions=False) as client:
        page = client.get("/").text
        assert "features baseline" in page and 'data-baseline="features"' in page
        data = (photos / "red" / "big.jpg").read_bytes()
        url = f"/api/collections/{name}/search"
        for fields in ({}, {"baseline": "features"}, {"baseline": "raw"}):
            got = client.post(url, files={"image": ("q.jpg", data, "image/jpeg")}, data=fields)
            assert got.status_code == 200, got.text
            assert got.json()["results"][0]["path"].endswith("big.jpg"), fields
        assert client.post(url, json={"id": 0, "baseline": "features"}).json()["method"] == (
            "features-cosine"
        )
        info = client.get(f"/api/collections/{name}").json()
        assert info["kind"] == "features" and info["backbone"] == "efficientnet-lite0"
        assert client.get(f"/api/collections/{name}/items/0/thumbnail").status_code == 200


@installed
def test_thumbnail_of_a_gone_file_is_the_small_copy(coll, tmp_path):
    with api.open(coll) as c:
        row = dict(c.item(0), path=str(tmp_path / "gone.jpg"))
        img = c.input_kind.thumbnail(row, 64, lambda: c._stored(0))
        assert img.size == (64, 64) and img.mode == "RGB"


# -- backends -----------------------------------------------------------------------------------
@installed
def test_features_collection_on_postgres(pg_url, photos, tmp_path, monkeypatch):
    coll = tmp_path / "pg.semhash"
    semhash("index", photos, "-c", coll, "--db", pg_url, *FAST, "-q")
    monkeypatch.setenv("SEMHASH_DB_URL", pg_url)  # the sidecar keeps no password
    got = json.loads(semhash("search", coll, "--query", photos / "red" / "big.jpg", "--json",
                             "--baseline", "features").stdout)  # fmt: skip
    assert got["results"][0]["path"].endswith("big.jpg")


@installed
def test_features_collection_on_milvus_lite(photos, tmp_path):
    pytest.importorskip("pymilvus", reason="the milvus extra is not installed")
    coll = tmp_path / "mv.semhash"
    semhash("index", photos, "-c", coll, "--backend", "milvus", "--uri", tmp_path / "codes.db",
            *FAST, "-q")  # fmt: skip
    got = json.loads(semhash("search", coll, "--query", photos / "red" / "big.jpg", "--json"
                             ).stdout)  # fmt: skip
    assert got["results"][0]["path"].endswith("big.jpg")
    got = json.loads(semhash("search", coll, "--query", photos / "red" / "big.jpg", "--json",
                             "--asymmetric").stdout)  # fmt: skip
    assert len(got["results"]) == 10  # the codes of the shortlist read back from Milvus by id


# -- outliers among real photos -----------------------------------------------------------------
def screenshot(path: Path) -> Path:
    """A white window with a title bar and lines of dark text: a screen capture."""
    img = Image.new("RGB", (320, 240), "white")
    draw = ImageDraw.Draw(img)
    draw.rectangle((0, 0, 320, 22), fill=(60, 90, 160))
    for y in range(34, 230, 14):
        draw.text((10, y), "def search(collection, query): return codes  # " + str(y),
                  fill=(20, 20, 20))  # fmt: skip
    img.save(path)
    return path


@installed
def test_outliers_catch_a_blank_frame_and_a_screenshot_among_photos(tmp_path):
    """Among 150 CIFAR-10 photos, a black frame, a white one and a screenshot are the three
    worst reconstructed (by the cosine of the features and their reconstruction)."""
    from semantic_hashing.retrieval import datasets

    try:
        root = datasets.cifar10_folder() / "test"
    except SemhashError as exc:
        pytest.skip(str(exc))
    folder = tmp_path / "mixed"
    folder.mkdir()
    for cls in sorted(p for p in root.iterdir() if p.is_dir()):
        for src in sorted(cls.glob("*.jpg"))[:15]:
            shutil.copy(src, folder / f"{cls.name}-{src.name}")
    Image.new("RGB", (64, 64), (0, 0, 0)).save(folder / "zz-blank.png")
    Image.new("RGB", (64, 64), (255, 255, 255)).save(folder / "zz-white.png")
    screenshot(folder / "zz-screenshot.png")
    coll = tmp_path / "mixed.semhash"
    store_api.index(folder, coll, features="efficientnet-lite0", image_size=SIZE, bits=32,
                    seed=0)  # fmt: skip
    with api.open(coll) as c:
        ranked = [Path(o.path).name for o in c.outliers(3)]
    assert set(ranked) == {"zz-blank.png", "zz-white.png", "zz-screenshot.png"}, ranked
