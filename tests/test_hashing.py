"""LSH, PCA and ITQ codes, and the benchmark's scoring against brute force with ties."""

import numpy as np
import pytest

from semantic_hashing.bench.eval import Space, curve_ks, score, time_queries
from semantic_hashing.bench.hashing import HASHERS
from semantic_hashing.retrieval.codes import pack_bits

from .conftest import brute_force_hamming


def clustered(n: int, seed: int, classes: int = 5, dim: int = 64):
    """Gaussian clusters around seeded centres (the centres do not depend on `seed`)."""
    centres = np.random.default_rng(123).normal(0, 3, (classes, dim))
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, n)
    return (centres[labels] + rng.normal(0, 1, (n, dim))).astype(np.float32), labels


@pytest.fixture(scope="module")
def data():
    (db, db_labels), (q, q_labels) = clustered(1000, 0), clustered(100, 1)
    return db, db_labels, q, q_labels


@pytest.mark.parametrize("name", sorted(HASHERS))
@pytest.mark.parametrize("bits", [16, 32])
def test_hashers_are_balanced_and_beat_chance(data, name, bits):
    db, db_labels, q, q_labels = data
    hasher = HASHERS[name](bits, seed=0).fit(db)
    codes, q_codes = hasher.encode(db), hasher.encode(q)
    assert codes.shape == (1000, bits // 8) and codes.dtype == np.uint8
    assert q_codes.shape == (100, bits // 8)
    rate = np.unpackbits(codes, axis=1).mean(0)
    assert np.all((rate > 0.1) & (rate < 0.9)) and np.abs(rate - 0.5).mean() < 0.15
    result = score(Space("hamming", codes, q_codes), db_labels, q_labels)
    assert result["p@10"] > 0.6  # chance is about 0.2 with five classes


def test_lsh_follows_the_seed(data):
    db = data[0]
    a, b, c = (HASHERS["lsh"](16, seed=s).fit(db).encode(db) for s in (0, 0, 1))
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_projection_hashers_refuse_more_bits_than_dimensions(data):
    from semantic_hashing.retrieval.errors import SemhashError

    with pytest.raises(SemhashError, match="feature dimensions"):
        HASHERS["pca"](128, seed=0).fit(data[0][:, :32])


def test_ties_keep_database_order():
    a, b = np.array([0b11110000], np.uint8), np.array([0b00001111], np.uint8)
    db = np.stack([a, b, a, b])  # items 0 and 2 are identical, so are 1 and 3
    result = score(Space("hamming", db, a[None]), np.array([0, 1, 1, 0]), np.array([1]))
    # ranked list 0, 2, 1, 3: item 0 (not relevant) comes before its twin 2 (relevant)
    assert result["curve"]["k"] == [1, 2, 3, 4]
    assert result["curve"]["precision"] == pytest.approx([0, 1 / 2, 2 / 3, 2 / 4])
    assert result["curve"]["recall"] == pytest.approx([0, 1 / 2, 1, 1])
    assert result["radius_precision"] == pytest.approx(1 / 2)  # items 0 and 2 at distance 0


def brute_force_scores(dist, db_labels, q_labels, radius):
    """Plain Python: sort by (distance, database position), then count."""
    p10, p100, ball, hit = [], [], [], []
    for row, label in zip(dist, q_labels, strict=True):
        order = sorted(range(len(row)), key=lambda j: (row[j], j))
        rel = [db_labels[j] == label for j in order]
        p10.append(sum(rel[:10]) / 10)
        p100.append(sum(rel[:100]) / 100)
        inside = [db_labels[j] == label for j in range(len(row)) if row[j] <= radius]
        ball.append(sum(inside) / len(inside) if inside else 0.0)
        hit.append(bool(inside))
    return np.mean(p10), np.mean(p100), np.mean(ball), np.mean(hit)


def test_score_equals_brute_force_on_tied_codes():
    rng = np.random.default_rng(7)
    db = pack_bits(rng.random((300, 16)) < 0.15)  # sparse codes: many equal distances
    q = pack_bits(rng.random((40, 16)) < 0.15)
    db_labels, q_labels = rng.integers(0, 3, 300), rng.integers(0, 3, 40)
    result = score(Space("hamming", db, q), db_labels, q_labels, radius=2, chunk=16)
    expected = brute_force_scores(brute_force_hamming(q, db), db_labels, q_labels, 2)
    got = (result["p@10"], result["p@100"], result["radius_precision"],
           result["radius_hit_fraction"])  # fmt: skip
    assert got == pytest.approx(expected)


def test_euclidean_and_cosine_spaces_rank_exactly(data):
    db, db_labels, q, q_labels = data
    exact = ((q[:, None, :].astype(np.float64) - db[None]) ** 2).sum(-1)
    expected = brute_force_scores(exact, db_labels, q_labels, radius=-1)
    result = score(Space("l2", db, q), db_labels, q_labels)
    assert (result["p@10"], result["p@100"]) == pytest.approx(expected[:2])
    assert result["radius_precision"] is None
    unit = db / np.linalg.norm(db, axis=1, keepdims=True)
    cosine = score(Space("ip", unit, q / np.linalg.norm(q, axis=1, keepdims=True)),
                   db_labels, q_labels)  # fmt: skip
    assert cosine["p@10"] > 0.9


def test_curve_ks_and_timing(data):
    ks = curve_ks(1000)
    assert ks[0] == 1 and ks[-1] == 1000 and {10, 100, 1000} <= set(ks.tolist())
    assert np.all(np.diff(ks) > 0)
    db, _, q, _ = data
    times = time_queries(Space("l2", db, q), k=10, single=5)
    assert times["query_ms_batch"] > 0 and times["query_ms_single"] > 0
