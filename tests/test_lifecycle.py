"""A collection's life: incremental runs, changes, removal, pruning, locks, crash repair."""

import json
import os
import shutil

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from semantic_hashing.cli import cli
from semantic_hashing.indexer.maintenance import check_collection, remove_items
from semantic_hashing.indexer.pipeline import index_folder
from semantic_hashing.indexer.store import Store
from semantic_hashing.retrieval.codes import hamming
from semantic_hashing.retrieval.errors import SemhashError

from .conftest import fast_options, make_image_folder, pattern


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture
def built(tmp_path, collection):
    """A private copy of the session's tiny collection and of its image folder."""
    coll = Store.open(collection)
    folder = tmp_path / "imgs"
    shutil.copytree(os.path.dirname(os.path.dirname(coll.meta.get([0])[0].path)), folder)
    coll.close()
    model = tmp_path / "m.pt"
    shutil.copy(collection / "model.pt", model)
    path = tmp_path / "c.semhash"
    opts = fast_options()
    opts.model_path, opts.chunk_size = model, 25
    index_folder(folder, path, opts)
    return folder, path, model


def state(path):
    coll = Store.open(path)
    try:
        ids, codes = coll.index.ids(), coll.index.codes()
        order = np.argsort(ids)
        rows = coll.meta.get(ids.tolist())
        return {rows[i].path.split("/imgs/")[-1]: (int(i), codes[j].tobytes())
                for i, j in zip(ids[order], order, strict=True)}  # fmt: skip
    finally:
        coll.close()


def test_changed_file_keeps_its_id_and_gets_a_new_code(built):
    folder, path, model = built
    before = state(path)
    target = sorted((folder / "bars").iterdir())[3]
    key = f"bars/{target.name}"
    Image.fromarray(pattern(1, np.random.default_rng(9))).save(target)  # now a column image
    opts = fast_options()
    opts.model_path = model
    report = index_folder(folder, path, opts)
    assert (report.added, report.changed, report.unchanged) == (0, 1, 119)
    after = state(path)
    assert after[key][0] == before[key][0]
    assert after[key][1] != before[key][1]
    assert len(after) == 120 and check_collection(path)["problems"] == {
        k: 0 for k in check_collection(path)["problems"]
    }


def test_remove_by_id_and_path_never_returned(built):
    folder, path, _ = built
    assert remove_items(path, ids=[0]) == 1
    n = remove_items(path, path=folder / "columns")
    assert n == 40
    result = run("search", path, "--query", folder / "columns", "-k", 100, "--json", "-q")
    assert result.exit_code == 0, result.output
    for line in result.stdout.splitlines():
        for hit in json.loads(line)["results"]:
            assert hit["id"] != 0 and hit["label"] != "columns"
    raw = run("search", path, "--query", folder / "bars", "-k", 200, "--baseline", "raw", "--json")
    ids = {h["id"] for line in raw.stdout.splitlines()
           for h in json.loads(line)["baseline"]["results"]}  # fmt: skip
    assert len(ids) == 79 and 0 not in ids
    assert "not in" in run("remove", path, "--id", 0).output  # already gone
    res = run("check", path)
    assert res.exit_code == 0 and "ok" in res.output


def test_prune_and_readd(built):
    folder, path, model = built
    moved = folder.parent / "diag-away"
    shutil.move(folder / "diagonal", moved)
    opts = fast_options()
    opts.model_path, opts.prune = model, True
    report = index_folder(folder, path, opts)
    assert report.removed == 40 and report.total == 80
    shutil.move(moved, folder / "diagonal")
    before = state(path)
    report = index_folder(folder, path, opts)
    assert report.changed == 40 and report.total == 120  # re-added under their old ids
    assert set(state(path)) - set(before) == {k for k in state(path) if k.startswith("diagonal")}


def test_second_writer_is_refused_readers_work(built):
    folder, path, _ = built
    writer = Store.open(path, write=True)
    try:
        with pytest.raises(SemhashError, match="another semhash process is writing"):
            Store.open(path, write=True)
        result = run("index", folder, "-c", path)
        assert result.exit_code == 1 and "another semhash process" in result.output
        assert run("search", path, "--id", 1).exit_code == 0
    finally:
        writer.close()
    assert Store.open(path, write=True).close() is None


def test_half_written_chunk_is_repaired(built):
    """A chunk whose raw inputs and codes were written but whose metadata never committed."""
    folder, path, model = built
    coll = Store.open(path, write=True)
    fake = np.arange(120, 130, dtype=np.int64)
    coll.raw.append(fake, np.zeros((10, 784), np.uint8))
    coll.index.add(coll.index.codes()[:10], fake)
    coll.index.add(coll.index.codes()[:1], np.array([5]))  # a duplicate id too
    coll.index.save(path / "codes.index")
    coll.close()
    found = check_collection(path)["problems"]
    assert found["codes without a live metadata row"] == 10
    assert found["duplicate ids in the index"] == 1
    assert found["uncommitted input chunks"] == 1
    assert run("check", path).exit_code == 1
    fixed = check_collection(path, repair=True)
    assert all(v == 0 for v in fixed["problems_after"].values())
    assert run("check", path).exit_code == 0
    assert len(state(path)) == 120


def test_model_mismatch_and_rebuild(built, tmp_path):
    folder, path, _ = built
    other = tmp_path / "other.pt"
    assert run("train", folder, "--out", other, "--bits", 16, "--epochs", 1, "--seed", 3,
               "-q").exit_code == 0  # fmt: skip
    before = state(path)
    refused = run("index", folder, "-c", path, "--model", other)
    assert refused.exit_code == 1 and "--rebuild" in refused.output
    assert state(path) == before  # nothing lost
    ok = run("index", folder, "-c", path, "--model", other, "--rebuild", "-q")
    assert ok.exit_code == 0, ok.output
    after = state(path)
    assert {k: v[0] for k, v in after.items()} == {k: v[0] for k, v in before.items()}
    assert [v[1] for v in after.values()] != [v[1] for v in before.values()]
    info = json.loads(run("info", path, "--json").output)
    from semantic_hashing.retrieval.codes import HashEncoder

    assert info["model_fingerprint"] == HashEncoder.load(other).fingerprint()


def test_codes_match_a_clean_build(built, tmp_path, collection):
    """Chunked writing (25 per chunk) gives the same ids and codes as one big chunk."""
    folder, path, model = built
    opts = fast_options()
    opts.model_path, opts.chunk_size = model, 100000
    index_folder(folder, tmp_path / "clean.semhash", opts)
    assert state(path) == state(tmp_path / "clean.semhash")
    a = Store.open(path)
    q = a.index.codes()[:5]
    D, _ = a.index.search(q, 10)
    assert np.array_equal(D, np.sort(hamming(q, a.index.codes()), axis=1)[:, :10])
    a.close()


def test_half_created_collection_starts_again(tmp_path, image_folder):
    path = tmp_path / "c.semhash"
    path.mkdir()
    (path / "model.pt").write_bytes(b"partial")
    (path / "codes.index.tmp").write_bytes(b"x")
    opts = fast_options(bits=16, epochs=1)
    report = index_folder(image_folder, path, opts)
    assert report.added == 120
    other = tmp_path / "mine"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")
    with pytest.raises(SemhashError, match="not an empty folder"):
        index_folder(image_folder, other, opts)
    assert (other / "notes.txt").read_text() == "keep me"


def test_new_collection_with_a_model_on_a_fresh_folder(tmp_path, collection):
    folder = make_image_folder(tmp_path / "other", per_class=5, seed=7)
    opts = fast_options()
    opts.model_path = collection / "model.pt"
    report = index_folder(folder, tmp_path / "n.semhash", opts)
    assert report.added == 15 and "train" not in report.timings
