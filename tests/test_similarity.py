"""The image verification similarity against its definition, pair by pair (seeded data):
the best Pearson correlation over the 19 windows of either image, resampled to full size."""

import numpy as np

from semantic_hashing.retrieval.similarity import _views, image_pairs


def reference(a: np.ndarray, b: np.ndarray) -> float:
    """Slow and plain: pool, resample each window with its two matrices, np.corrcoef."""

    def pooled(x):
        g = x.astype(np.float64).mean(axis=0)
        return g.reshape(g.shape[0] // 2, 2, g.shape[1] // 2, 2).mean(axis=(1, 3))

    pa, pb = pooled(a), pooled(b)
    best = -1.0
    for x, y in ((pa, pb), (pb, pa)):
        for rows, cols in _views(*x.shape):
            view = rows.astype(np.float64) @ x @ cols.T.astype(np.float64)
            flat_v, flat_y = np.ptp(x) == 0, np.ptp(y) == 0  # a flat image's views are flat
            if flat_v or flat_y:
                best = max(best, 1.0 if flat_v and flat_y else 0.0)
                continue
            best = max(best, np.corrcoef(view.ravel(), y.ravel())[0, 1])
    return best


def test_pairs_equal_the_definition():
    rng = np.random.default_rng(11)
    base = rng.integers(0, 256, (40, 3, 32, 32), dtype=np.uint8)
    near = np.clip(base.astype(int) + rng.integers(-20, 20, base.shape), 0, 255).astype(np.uint8)
    crop = np.repeat(np.repeat(base[:, :, 2:18, 2:18], 2, axis=2), 2, axis=3)  # a 50% window
    flat = np.full((2, 3, 32, 32), 90, np.uint8)
    inputs = np.concatenate([base, near, crop, flat])  # 122 items
    n = len(inputs)
    a = np.r_[np.arange(40), np.arange(40), np.zeros(50, int), [120, 120, 0]]
    b = np.r_[np.arange(40, 80), np.arange(80, 120), rng.integers(1, n, 50), [121, 5, 120]]
    got = image_pairs(inputs, inputs, a, b)  # item 0 in 53 pairs: several rows of targets
    want = np.array([reference(inputs[i], inputs[j]) for i, j in zip(a, b, strict=True)])
    assert np.allclose(got, want, atol=1e-4)
    assert np.allclose(image_pairs(inputs, inputs.copy(), a, b), got, atol=1e-6)  # two arrays
    assert (want[:40] > 0.9).all() and got[-3] == 1.0 and got[-1] == 0.0
