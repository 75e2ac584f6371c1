"""The Milvus backend against FAISS's exact flat index, on Milvus Lite for real (no mocks)."""

import json

import numpy as np
import pytest

pytest.importorskip("pymilvus", reason="the milvus extra is not installed")

from semantic_hashing.indexer.binary_index import BinaryIndex  # noqa: E402
from semantic_hashing.indexer.milvus_index import MilvusIndex  # noqa: E402
from semantic_hashing.retrieval.codes import hamming  # noqa: E402

from .conftest import (  # noqa: E402
    assert_user_error,
    run,
    seeded_codes,  # noqa: E402
)

BITS, K = 64, 25


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    """The same seeded codes (many ties) in Milvus Lite and in a FAISS flat index."""
    db = seeded_codes(600, BITS, 0)
    ids = np.arange(2000, 2600, dtype=np.int64)[::-1].copy()
    lite = MilvusIndex(BITS, str(tmp_path_factory.mktemp("milvus") / "m.db"), "semhash_test")
    lite.add(db, ids)
    flat = BinaryIndex(BITS)
    flat.add(db, ids)
    yield lite, flat, db, ids
    lite.close()


def test_lite_search_equals_faiss_flat_with_ties(pair):
    lite, flat, db, ids = pair
    q = seeded_codes(30, BITS, 1)
    (Dm, Im), (Df, If) = lite.search(q, K), flat.search(q, K)
    truth = hamming(q, db)
    assert len(lite) == 600
    assert np.array_equal(Dm, Df)  # same distances, reported as Hamming
    for row in range(len(q)):
        assert np.array_equal(truth[row, 2599 - Im[row]], Dm[row])  # each id's own distance
        kth = Df[row, -1]
        # ids strictly closer than the k-th distance are the same; at the k-th distance
        # either index may keep any of the tied items
        assert set(Im[row][Dm[row] < kth]) == set(If[row][Df[row] < kth])
        for d in np.unique(Dm[row]):
            assert np.all(np.diff(Im[row][Dm[row] == d]) > 0)  # ties sorted by id


def test_lite_codes_of_equals_faiss(pair):
    lite, flat, db, ids = pair
    wanted = ids[[5, 0, 599, 5]]
    assert np.array_equal(lite.codes_of(wanted), db[[5, 0, 599, 5]])
    assert np.array_equal(flat.codes_of(wanted), db[[5, 0, 599, 5]])


def test_lite_range_search_and_remove(pair, tmp_path):
    lite, flat, db, ids = pair
    q = seeded_codes(5, BITS, 2)
    for (dm, im), (df, i_f) in zip(lite.range_search(q, 6), flat.range_search(q, 6), strict=True):
        assert np.array_equal(dm, df) and np.array_equal(im, i_f)
    other = MilvusIndex(BITS, str(tmp_path / "x.db"), "semhash_remove")
    other.add(db[:50], ids[:50])
    assert other.remove(ids[:2]) == 2 and len(other) == 48
    assert not set(ids[:2]) & set(other.search(db[:2], 48)[1].ravel())
    other.close()


def test_cli_milvus_backend_matches_faiss(collection, image_folder, tmp_path):
    coll = tmp_path / "m.semhash"
    run("index", image_folder, "-c", coll, "--model", collection / "model.pt",
        "--backend", "milvus", "--uri", tmp_path / "lite.db", "-q")  # fmt: skip
    assert json.loads(run("info", coll, "--json").output)["backend"]["name"] == "milvus"
    query = image_folder / "diagonal"
    args = ("--query", query, "-k", 9, "--json", "-q")
    faiss_out = run("search", collection, *args).output.strip().splitlines()
    milvus_out = run("search", coll, *args, "--backend", "milvus").output.strip().splitlines()
    assert len(milvus_out) == len(faiss_out) == 40
    for a, b in zip(faiss_out, milvus_out, strict=True):
        ra, rb = json.loads(a)["results"], json.loads(b)["results"]
        assert [h["distance"] for h in ra] == [h["distance"] for h in rb]
        kth = ra[-1]["distance"]
        closer = [{h["id"] for h in r if h["distance"] < kth} for r in (ra, rb)]
        assert closer[0] == closer[1] and rb[0]["distance"] == 0
    refused = run("search", coll, "--id", 1, "--strategy", "hash", ok=False)
    assert_user_error(refused, "--strategy")
    wrong = run("search", collection, "--id", 1, "--backend", "milvus", ok=False)
    assert_user_error(wrong, "faiss")
    # the Milvus-kept collection goes through the same life: remove, check, re-index
    assert run("remove", coll, "--id", 0, "-q").exit_code == 0
    assert run("check", coll).exit_code == 0
    again = run("index", image_folder, "-c", coll, "-q")
    assert "added 0, changed 1, unchanged 119" in again.output  # back under its old id
