"""Pieces of the scale benchmark on small seeded data (the benchmark itself is a command)."""

import numpy as np

from semantic_hashing.bench import scale, scale_data
from semantic_hashing.retrieval.codes import hamming

from .conftest import clustered_codes


def test_augment_keeps_shape_and_stays_close():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (6, 1, 28, 28), dtype=np.uint8)
    out = scale_data.augment(images, np.random.default_rng(1))
    assert out.shape == images.shape and out.dtype == np.uint8
    again = scale_data.augment(images, np.random.default_rng(1))
    assert np.array_equal(out, again)  # seeded: the raw baseline can regenerate it


def test_fitted_codes_look_like_the_real_ones():
    real = clustered_codes(4000, 64, 0, centres=8, noise=0.05)
    fitted = scale_data.FittedCodes.fit(real, clusters=8)
    drawn = fitted.sample(2000, seed=3)
    assert drawn.shape == (2000, 8) and np.array_equal(drawn, fitted.sample(2000, seed=3))
    # every drawn code lies near some real cluster, as the real codes do
    near = hamming(drawn[:200], real).min(axis=1)
    assert np.median(near) <= 8
    grown = scale_data.grow_codes(real, 5000, fitted)
    assert len(grown) == 5000 and np.array_equal(grown[:4000], real)


def test_tie_aware_recall_and_targets():
    kth = np.array([3, 5])
    D = np.array([[0, 3, 3, 4], [1, 2, 5, 9]])
    assert scale.tie_aware_recall(D, kth) == (3 / 4 + 3 / 4) / 2
    rows = [
        {"n": 60_000, "strategy": "hash", "ms_p50": 0.05, "recall@100": 0.95},
        {"n": 10_000_000, "strategy": "hash", "ms_p50": 0.08, "recall@100": 0.93},
        {"n": 1_000_000, "strategy": "hash", "ms_p50": 0.06, "recall@100": 0.94},
        {"n": 1_000_000, "strategy": "flat", "ms_p50": 2.5, "recall@100": 1.0},
        {"n": 1_000_000, "strategy": "raw-float-l2", "ms_p50": 300.0},
    ]
    t = scale.targets(rows)
    assert t["hash_flat_in_N"]["met"] and t["hash_flat_in_N"]["ratio"] == 1.6
    assert not t["flat_1M_le_2ms"]["met"]
    assert t["hash_vs_raw_1M"]["speedup"] == 5000 and t["flat_vs_raw_1M"]["met"]


def test_get_encoder_trains_and_reuses_a_model(tmp_path):
    from semantic_hashing.bench.scale import ScaleOptions, get_encoder

    images = np.random.default_rng(0).integers(0, 256, (64, 1, 28, 28), dtype=np.uint8)
    opts = ScaleOptions(out=tmp_path, epochs=1)
    encoder, info = get_encoder(opts, images)
    assert info["trained_here"] and encoder.bits == 64 and (tmp_path / "model.pt").exists()
    again, info = get_encoder(opts, images)
    assert not info["trained_here"] and again.fingerprint() == encoder.fingerprint()


def test_recall_at_k_of_each_strategy(tmp_path):
    """`bench-scale --k 10`: latency and tie-aware recall of the top 10, the exact scan 1.0."""
    from semantic_hashing.bench.scale import (
        ScaleOptions,
        Workload,
        _recall,
        measure_strategy,
        truth_kth,
    )

    from .conftest import seeded_codes

    codes, q, c = seeded_codes(5000, 64, 1), seeded_codes(30, 64, 2), seeded_codes(20, 64, 3)
    work = Workload(None, codes, len(codes), None, q, c)
    opts = ScaleOptions(out=tmp_path, k=10)
    kth, c_kth = truth_kth(codes, q, 10), truth_kth(codes, c, 10)
    flat = measure_strategy("flat", codes, work, kth, c_kth, opts)
    ivf = measure_strategy("ivf", codes, work, kth, c_kth, opts)
    assert flat["recall@10"] == 1.0 and _recall(flat) == 1.0 and flat["queries"] == 30
    assert ivf["recall_k"] == 10 and 0 < _recall(ivf) <= 1.0 and "recall@100" not in ivf
