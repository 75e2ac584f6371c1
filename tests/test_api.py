"""The public API: one collection opened once answers files, bytes, arrays, PIL images,
text, ids and batches; every mistake is one SemhashError sentence."""

import shutil

import numpy as np
import pytest
from PIL import Image

import semantic_hashing as sh

from .conftest import fast_options, make_corpus, make_image_folder


@pytest.fixture(scope="module")
def coll(collection):
    with sh.open(collection) as c:
        yield c


def first_file(image_folder):
    return sorted((image_folder / "bars").iterdir())[0]


def ranked(result):
    return [(h.id, h.distance) for h in result.results]


def test_file_bytes_array_and_pil_give_the_same_answer(coll, image_folder):
    path = first_file(image_folder)
    by_file = coll.search(path, k=8)
    assert by_file.results[0].path == str(path) and by_file.results[0].distance == 0
    pil = Image.open(path)
    for query in (path.read_bytes(), np.asarray(pil), pil, str(path)):
        assert ranked(coll.search(query, k=8)) == ranked(by_file)


def test_id_radius_baseline_and_result_dicts(coll):
    assert coll.search(id=5, k=3).results[0].distance == 0  # itself, or a tie with it
    assert 5 in [h.id for h in coll.search(id=5, radius=0, k=None).results]
    within = coll.search(id=5, radius=2, k=None)
    assert within.results and all(h.distance <= 2 for h in within.results)
    raw = coll.search(id=5, k=3, baseline="raw")
    assert raw.method == "raw-l2" and raw.results[0].id == 5
    d = raw.to_dict()
    assert set(d) == {"query", "results"} and set(d["results"][0]) >= {"id", "path", "distance"}
    assert coll.item(5)["id"] == 5 and coll.info()["items"] == len(coll) == 120


def test_batch_skips_what_it_cannot_read(coll, image_folder, tmp_path):
    shutil.copy(first_file(image_folder), tmp_path / "a.png")
    (tmp_path / "broken.png").write_bytes(b"\x89PNG garbage")
    batch = coll.search_batch(tmp_path, k=2)
    assert [r.query for r in batch.results] == [str(tmp_path / "a.png")]
    assert batch.skipped[0][0] == str(tmp_path / "broken.png")
    assert len(coll.search_batch(ids=[1, 2, 3], k=2).results) == 3
    assert batch.to_dict()["skipped"][0]["path"].endswith("broken.png")


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({}, "exactly one query"),
        ({"id": 1, "text": "x"}, "exactly one query"),
        ({"text": "orbit"}, "text"),
        ({"id": 99999}, "not in"),
        ({"id": 1, "radius": 17}, "--radius must be from 0 to 16"),
        ({"id": 1, "radius": -1}, "--radius must be from 0 to 16"),
        ({"id": 1, "k": 0}, "must be from 1"),
        ({"id": 1, "baseline": "pixels"}, "unknown baseline"),
        ({"id": 1, "radius": 2, "baseline": "raw"}, "codes only"),
        ({"query": b"not an image at all"}, "cannot be read"),
        ({"query": np.zeros((2, 2, 7))}, "HxW"),
        ({"query": 3.5}, "numpy array or a PIL image"),
    ],
)
def test_mistakes_are_one_sentence(coll, kwargs, words):
    with pytest.raises(sh.SemhashError, match=words):
        coll.search(**kwargs)


def test_index_options_are_checked(tmp_path):
    cases = [({"bits": 12}, "multiple of 8"), ({"epochs": 0}, "at least 1"),
             ({"chunk_size": 0}, "--chunk-size"), ({"vocab": 1}, "--vocab")]  # fmt: skip
    for settings, words in cases:
        with pytest.raises(sh.SemhashError, match=words):
            sh.index(tmp_path, tmp_path / "c.semhash", **settings)
    assert not (tmp_path / "c.semhash").exists()


def test_refresh_sees_what_index_added(tmp_path):
    from semantic_hashing.indexer.pipeline import index_folder

    folder = make_image_folder(tmp_path / "img", per_class=10)
    index_folder(folder, tmp_path / "c.semhash", fast_options(bits=16, epochs=1))
    coll = sh.open(tmp_path / "c.semhash")
    assert len(coll) == 30 and coll.refresh() is False
    make_image_folder(tmp_path / "img" / "more", per_class=2, seed=5)
    sh.index(folder, tmp_path / "c.semhash")
    assert len(coll) == 30  # the old state until refreshed
    assert coll.refresh() is True and len(coll) == 36
    assert 35 in [h.id for h in coll.search(id=35, radius=0, k=None).results]
    coll.close()


def test_text_collection(tmp_path):
    corpus = make_corpus(tmp_path / "docs", per_topic=15)
    sh.index(corpus, tmp_path / "t.semhash", bits=16, epochs=60)
    with sh.open(tmp_path / "t.semhash") as coll:
        assert coll.kind == "text"
        hits = coll.search(text="orbit shuttle nasa rocket", k=5).results
        assert sum(h.label == "space" for h in hits) >= 4
        by_file = coll.search(sorted((corpus / "hockey").iterdir())[0], k=3).results
        assert by_file[0].label == "hockey" and by_file[0].distance == 0
        with pytest.raises(sh.SemhashError, match="text collection"):
            coll.search(np.zeros((28, 28), dtype=np.uint8))


PROBE = """
import sys
from semantic_hashing.cli import cli
try:
    cli(sys.argv[1:], prog_name="semhash")
except SystemExit as exc:
    code = exc.code
print("TORCH" if "torch" in sys.modules else "NO-TORCH", code)
"""


@pytest.mark.parametrize("args", [["info"], ["check"], ["info", "--json"]])
def test_commands_without_a_model_do_not_import_torch(collection, args):
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", PROBE, args[0], str(collection), *args[1:]],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.stdout.strip().splitlines()[-1] == "NO-TORCH 0", done.stdout + done.stderr


def test_remove_does_not_import_torch(tmp_path, collection):
    import subprocess
    import sys

    shutil.copytree(collection, tmp_path / "c.semhash")
    args = ["remove", str(tmp_path / "c.semhash"), "--id", "3", "-q"]
    done = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True,
                          timeout=120)  # fmt: skip
    assert done.stdout.strip().splitlines()[-1] == "NO-TORCH 0", done.stdout + done.stderr
    assert "NO-TORCH 1" in subprocess.run([sys.executable, "-c", PROBE, *args],
                                          capture_output=True, text=True).stdout  # fmt: skip
