"""Every search strategy against a brute-force Hamming scan on seeded, clustered codes."""

import json

import numpy as np
import pytest

from semantic_hashing.indexer.binary_index import BinaryIndex
from semantic_hashing.indexer.hash_index import DistinctHashIndex, address_order, permute
from semantic_hashing.indexer.strategies import (
    STRATEGIES,
    StrategyParams,
    build,
    open_secondary,
    secondary_paths,
)
from semantic_hashing.retrieval.codes import hamming, pack_bits
from semantic_hashing.retrieval.errors import SemhashError

from .conftest import brute_force_hamming, clustered_codes

N, BITS, K = 3000, 64, 20


@pytest.fixture(scope="module")
def data():
    db, q = clustered_codes(N, BITS, 0), clustered_codes(40, BITS, 1)
    ids = (np.arange(N, dtype=np.int64) * 7 + 3)[::-1].copy()  # own ids, not positions
    return db, q, ids, hamming(q, db)


def check_rows(D, I, ids, truth):
    """Every returned id carries its true distance; rows are sorted by (distance, id)."""
    pos = {int(i): p for p, i in enumerate(ids)}
    for row in range(len(D)):
        found = I[row] >= 0
        assert np.array_equal(truth[row, [pos[int(i)] for i in I[row][found]]], D[row][found])
        keys = list(zip(D[row][found], I[row][found], strict=True))
        assert keys == sorted(keys)


def recall(D, truth, k):
    """Tie-aware recall@k: returned items no farther than the true k-th distance."""
    kth = np.sort(truth, axis=1)[:, k - 1]
    return np.mean([min(k, int(np.sum(D[r][:k] <= kth[r]))) / k for r in range(len(D))])


def assert_exact(D, I, ids, truth, k):
    check_rows(D, I, ids, truth)
    for row in range(len(D)):
        exact = np.sort(truth[row])[:k]
        assert np.array_equal(D[row], exact)
        must = set(ids[truth[row] < exact[-1]])  # strictly closer than the k-th: all present
        assert must <= set(I[row])


def test_flat_is_exact(data):
    db, q, ids, truth = data
    D, I = build("flat", BITS, db, ids, StrategyParams()).search(q, K)
    assert_exact(D, I, ids, truth, K)


def test_hash_with_a_large_enough_radius_is_exact(data):
    db, q, ids, truth = data
    params = StrategyParams(nhash=4, hash_bits=16, nflip=3)
    # pigeonhole: every item within nhash * (radius + 1) - 1 = 15 bits is found
    assert np.sort(truth, axis=1)[:, K - 1].max() <= 15
    D, I = build("hash", BITS, db, ids, params).search(q, K)
    assert_exact(D, I, ids, truth, K)


@pytest.mark.parametrize(
    "strategy,params",
    [
        ("hash", StrategyParams(nhash=4, hash_bits=16, nflip=1)),
        ("hash", StrategyParams()),  # automatic b and nhash for N
        ("ivf", StrategyParams(nprobe=8)),
        ("hnsw", StrategyParams(hnsw_m=16, ef_search=64)),
    ],
)
def test_approximate_strategies_reach_recall(data, strategy, params):
    db, q, ids, truth = data
    D, I = build(strategy, BITS, db, ids, params).search(q, K)
    check_rows(D, I, ids, truth)
    assert recall(D, truth, K) >= 0.9


def test_ivf_probing_every_cell_is_exact(data):
    db, q, ids, truth = data
    D, I = build("ivf", BITS, db, ids, StrategyParams(nlist=16, nprobe=16)).search(q, K)
    assert_exact(D, I, ids, truth, K)


@pytest.mark.parametrize("strategy", ["hash", "ivf"])
def test_range_search_stays_within_radius(data, strategy):
    db, q, ids, truth = data
    params = StrategyParams(nhash=4, hash_bits=16, nflip=2, nlist=16, nprobe=16)
    index = build(strategy, BITS, db, ids, params)
    pos = {int(i): p for p, i in enumerate(ids)}
    for row, (d, i) in enumerate(index.range_search(q, 8)):
        # radius 8 < nhash * (radius + 1): the hash finds all of them, as does a full probe
        assert {pos[int(x)] for x in i} == set(np.flatnonzero(truth[row] <= 8))
        assert np.all(np.diff(d) >= 0)


def test_stale_secondary_index_is_rebuilt(tmp_path, data):
    db, q, ids, truth = data
    primary = BinaryIndex(BITS)
    primary.add(db[:2000], ids[:2000])
    params = StrategyParams(nhash=4, hash_bits=16, nflip=3)
    index_path, info_path = secondary_paths(tmp_path, "hash")

    first = open_secondary(tmp_path, "hash", primary, params)
    built = json.loads(info_path.read_text())
    assert len(first) == 2000 and built["count"] == 2000
    mtime = index_path.stat().st_mtime_ns
    again = open_secondary(tmp_path, "hash", primary, params)  # fresh: loaded, not rebuilt
    assert len(again) == 2000 and index_path.stat().st_mtime_ns == mtime

    primary.add(db[2000:], ids[2000:])  # the collection grew: rebuilt with every code
    grown = open_secondary(tmp_path, "hash", primary, params)
    assert len(grown) == N and json.loads(info_path.read_text())["count"] == N
    assert_exact(*grown.search(q, K), ids, truth, K)

    primary.remove(ids[:1])  # same count, other contents: the fingerprint differs
    primary.add(db[:1], np.array([10**9]))
    swapped = open_secondary(tmp_path, "hash", primary, params)
    assert json.loads(info_path.read_text())["fingerprint"] != built["fingerprint"]
    assert 10**9 in set(swapped.search(db[:1], 5)[1][0])

    wider = StrategyParams(nhash=2, hash_bits=32, nflip=1)  # other build parameters: rebuilt
    open_secondary(tmp_path, "hash", primary, wider)
    assert json.loads(info_path.read_text())["build"] == {"nhash": 2, "hash_bits": 32}


def test_hash_over_repeated_codes_expands_every_item(data):
    # 3,000 items sharing 60 distinct codes: the tables hold 60 codes, answers hold items
    db, _, ids, _ = data
    rng = np.random.default_rng(5)
    repeated = db[rng.integers(0, 60, N)]
    flips = pack_bits(rng.random((40, BITS)) < 2 / BITS)  # queries a bit or two off
    q = repeated[rng.integers(0, N, 40)] ^ flips
    truth = hamming(q, repeated)
    index = build("hash", BITS, repeated, ids, StrategyParams(nhash=4, hash_bits=16, nflip=3))
    assert index.n_distinct == len(np.unique(repeated, axis=0)) and len(index) == N
    D, I = index.search(q, K)
    assert_exact(D, I, ids, truth, K)
    flat_D, flat_I = build("flat", BITS, repeated, ids, StrategyParams()).search(q, K)
    assert np.array_equal(D, flat_D)
    # every item at distance 0 from a stored code comes back, smallest ids first
    d0, i0 = index.range_search(repeated[:1], 0)[0]
    same = np.sort(ids[np.all(repeated == repeated[0], axis=1)])
    assert np.array_equal(i0, same) and not d0.any()


def test_hash_index_file_round_trip(tmp_path, data):
    db, q, ids, _ = data
    index = build("hash", BITS, db, ids, StrategyParams(nhash=4, hash_bits=16, nflip=1))
    index.save(tmp_path / "h.index")
    back = DistinctHashIndex.load(tmp_path / "h.index")
    back.index.nflip = 1
    for a, b in zip(back.search(q, K), index.search(q, K), strict=True):
        assert np.array_equal(a, b)
    (tmp_path / "bad.index").write_bytes(b"nope")
    with pytest.raises(SemhashError, match="cannot read"):
        DistinctHashIndex.load(tmp_path / "bad.index")


def test_hash_addresses_interleave_the_bits():
    # table 0 reads bits 0, 2, 4; table 1 bits 1, 3, 5; bits 6 and 7 are in no address
    assert address_order(8, 2, 3).tolist() == [0, 2, 4, 1, 3, 5, 6, 7]
    codes = pack_bits(np.random.default_rng(0).random((5, 64)) < 0.5)
    moved = permute(codes, address_order(64, 3, 21))
    assert np.array_equal(hamming(moved, moved), hamming(codes, codes))


# Settings under which each registered strategy must equal the brute-force scan on `data`:
# a new strategy adds its line here (the test below refuses one without).
EXACT = {
    "flat": StrategyParams(),
    "hash": StrategyParams(nhash=4, hash_bits=16, nflip=3),  # pigeonhole: exact to 15 bits
    "ivf": StrategyParams(nlist=16, nprobe=16),  # every cell probed
    "hnsw": StrategyParams(hnsw_m=32, ef_search=N),  # a beam as wide as the collection
}


def test_every_registered_strategy_has_an_exact_setting():
    assert set(EXACT) == set(STRATEGIES)
    fields = set(StrategyParams.__dataclass_fields__)
    for name, strategy in STRATEGIES.items():
        assert strategy.name == name and set(strategy.build_fields + strategy.knobs) <= fields
        assert list(StrategyParams().build_key(name)) == list(strategy.build_fields)


@pytest.mark.parametrize("name", list(STRATEGIES))
def test_each_strategy_equals_a_brute_force_popcount(data, name):
    db, q, ids, _ = data
    sub = slice(0, 1500)  # Python's popcount, pair by pair, on half the collection
    truth = brute_force_hamming(q[:10], db[sub])
    index = build(name, BITS, db[sub], ids[sub], EXACT[name])
    D, I = index.search(q[:10], K)
    assert_exact(D, I, ids[sub], truth, K)
    if STRATEGIES[name].ranges:
        pos = {int(i): p for p, i in enumerate(ids[sub])}
        for row, (d, i) in enumerate(index.range_search(q[:10], 9)):
            assert sorted(pos[int(x)] for x in i) == np.flatnonzero(truth[row] <= 9).tolist()
            assert np.array_equal(d, truth[row, [pos[int(x)] for x in i]])


def test_a_secondary_index_recorded_under_the_old_field_names_is_rebuilt(tmp_path, data, caplog):
    db, _, ids, _ = data
    primary = BinaryIndex(BITS)
    primary.add(db[:500], ids[:500])
    params = StrategyParams(nhash=4, hash_bits=16, nflip=1)
    _, info_path = secondary_paths(tmp_path, "hash")
    open_secondary(tmp_path, "hash", primary, params)
    info = json.loads(info_path.read_text())
    assert info["build"] == {"nhash": 4, "hash_bits": 16}
    info["build"] = {"nhash": 4, "b": 16}  # as written before StrategyParams.b was renamed
    info_path.write_text(json.dumps(info))
    with caplog.at_level("INFO", logger="semantic_hashing.indexer.strategies"):
        again = open_secondary(tmp_path, "hash", primary, params)
    assert "building the hash index over 500 codes" in caplog.text and len(again) == 500
    assert json.loads(info_path.read_text())["build"] == {"nhash": 4, "hash_bits": 16}
