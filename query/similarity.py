"""How alike two stored model inputs are: the verification stage of duplicate finding.

Semantic codes put different-but-alike items close (two different white sneakers can be one
bit apart), so every candidate pair from the Hamming index is checked on the raw inputs the
collection keeps (raw/). One similarity per kind, each in [-1, 1] (1 = the same):

    image  Pearson correlation of the gray, 2x2-pooled inputs, the best over 19 views: the
           whole image, and sub-windows of 95% and 90% of either image (centre, corners,
           edge midpoints) resampled to full size, so a crop of up to 10% lines up again;
           the standardisation ignores brightness and contrast, the pooling most JPEG
           artefacts and the blur of rescaling
    text   cosine of the log(1 + counts) vectors: the same words in the same numbers
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

ZOOMS = (0.95, 0.9)  # sub-windows compared (image similarity): a crop of up to 10%


def _pooled(x: np.ndarray) -> np.ndarray:
    """(P, C, H, W) uint8 -> (P, H/2, W/2) float32 gray."""
    gray = np.asarray(x, dtype=np.float32).mean(axis=1)
    p, h, w = gray.shape
    h2, w2 = h // 2, w // 2
    return gray[:, : 2 * h2, : 2 * w2].reshape(p, h2, 2, w2, 2).mean(axis=(2, 4))


def _corr(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson correlation of each pair of rows (P, ...) -> (P,); two flat images are alike."""
    a = a.reshape(len(a), -1)
    b = b.reshape(len(b), -1)
    a = a - a.mean(axis=1, keepdims=True)
    b = b - b.mean(axis=1, keepdims=True)
    na, nb = np.linalg.norm(a, axis=1), np.linalg.norm(b, axis=1)
    flat_a, flat_b = na < 1e-3, nb < 1e-3
    out = (a * b).sum(axis=1) / np.maximum(na * nb, 1e-12)
    out[flat_a | flat_b] = 0.0
    out[flat_a & flat_b] = 1.0
    return out


def _views(zooms=ZOOMS) -> np.ndarray:
    """Affine maps (A, 2, 3) of the sub-windows compared: the whole image, and windows of
    each zoom in the centre, at the four corners and the four edge midpoints."""
    out = [np.array([[1, 0, 0], [0, 1, 0]], np.float32)]
    for s in zooms:
        m = 1 - s
        for ty in (-m, 0, m):
            for tx in (-m, 0, m):
                out.append(np.array([[s, 0, tx], [0, s, ty]], np.float32))
    return np.stack(out)


def image_similarity(a: np.ndarray, b: np.ndarray, zooms=ZOOMS) -> np.ndarray:
    """Similarity of image pairs `a[i]`, `b[i]` (uint8 (P, C, H, W) each): (P,) float32, the
    best correlation over sub-windows of either image (a crop of the other) resampled to
    the full size."""
    import torch
    from torch.nn import functional as F

    pa, pb = torch.from_numpy(_pooled(a))[:, None], torch.from_numpy(_pooled(b))[:, None]
    views = torch.from_numpy(_views(zooms))
    best = torch.full((len(pa),), -1.0)
    with torch.no_grad():
        for theta in views:
            grid = F.affine_grid(theta.expand(len(pa), 2, 3), list(pa.shape), align_corners=False)
            for x, y in ((pa, pb), (pb, pa)):
                seen = F.grid_sample(x, grid, mode="bilinear", align_corners=False)
                best = torch.maximum(best, torch.from_numpy(_corr(seen.numpy(), y.numpy())))
    return best.numpy().astype(np.float32)


def text_similarity(a, b) -> np.ndarray:
    """Cosine similarity of word-count rows `a[i]`, `b[i]` (sparse or dense (P, V))."""
    a = sparse.csr_matrix(a, dtype=np.float32).log1p()
    b = sparse.csr_matrix(b, dtype=np.float32).log1p()
    dot = np.asarray(a.multiply(b).sum(axis=1)).ravel()
    na = np.sqrt(np.asarray(a.multiply(a).sum(axis=1)).ravel())
    nb = np.sqrt(np.asarray(b.multiply(b).sum(axis=1)).ravel())
    return (dot / np.maximum(na * nb, 1e-12)).astype(np.float32)


SIMILARITY = {"image": image_similarity, "text": text_similarity}


def pair_similarity(kind: str, inputs_a, inputs_b, chunk: int = 20000) -> np.ndarray:
    """Similarity of row i of `inputs_a` and row i of `inputs_b`, in chunks of pairs."""
    fn = SIMILARITY[kind]
    n = inputs_a.shape[0]
    parts = [fn(inputs_a[s : s + chunk], inputs_b[s : s + chunk]) for s in range(0, n, chunk)]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)
