"""The FAISS binary index against a brute-force popcount Hamming search."""

import numpy as np
import pytest

from semantic_hashing.indexer.binary_index import BinaryIndex
from semantic_hashing.retrieval.codes import hamming
from semantic_hashing.retrieval.errors import SemhashError

from .conftest import brute_force_hamming, seeded_codes


def test_hamming_matches_python_popcount():
    a, b = seeded_codes(7, 64, 1), seeded_codes(9, 64, 2)
    assert np.array_equal(hamming(a, b), brute_force_hamming(a, b))


@pytest.mark.parametrize("bits", [16, 64, 256])
def test_search_equals_brute_force_with_ties(bits):
    db, q = seeded_codes(500, bits, 0), seeded_codes(20, bits, 1)
    ids = np.arange(1000, 1500, dtype=np.int64)[::-1].copy()  # own ids, not positions
    index = BinaryIndex(bits)
    index.add(db, ids)
    k = 25
    D, I = index.search(q, k)
    truth = hamming(q, db)
    for row in range(len(q)):
        exact = np.sort(truth[row])[:k]
        assert np.array_equal(D[row], exact)
        # every returned id has the distance reported for it
        pos = 1499 - I[row]
        assert np.array_equal(truth[row, pos], D[row])
        # items strictly closer than the k-th distance must all be present
        kth = exact[-1]
        must = set(ids[truth[row] < kth])
        assert must <= set(I[row])
        # within one distance, ids ascend (deterministic tie order)
        for d in np.unique(D[row]):
            same = I[row][D[row] == d]
            assert np.all(np.diff(same) > 0)


def test_range_search_is_inclusive():
    db, q = seeded_codes(300, 32, 3), seeded_codes(5, 32, 4)
    index = BinaryIndex(32)
    index.add(db, np.arange(300))
    truth = hamming(q, db)
    for radius in (0, 2, 5):
        for row, (D, I) in enumerate(index.range_search(q, radius)):
            assert set(I) == set(np.flatnonzero(truth[row] <= radius))
            assert np.all(np.diff(D) >= 0)


def test_save_load_remove(tmp_path):
    db = seeded_codes(50, 64, 5)
    index = BinaryIndex(64)
    index.add(db, np.arange(10, 60))
    index.save(tmp_path / "x.index")
    back = BinaryIndex.load(tmp_path / "x.index")
    assert len(back) == 50 and back.bits == 64
    assert np.array_equal(back.reconstruct(12), db[2])
    assert np.array_equal(back.codes(), db) and np.array_equal(back.ids(), np.arange(10, 60))
    assert back.remove(np.array([12, 13])) == 2
    D, I = back.search(db[2:3], 50)
    assert 12 not in I and 13 not in I


def test_wrong_code_length_is_refused():
    index = BinaryIndex(64)
    with pytest.raises(SemhashError, match="32 bits"):
        index.add(np.zeros((2, 4), np.uint8), np.arange(2))
