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
    out = np.einsum("ij,ij->i", a, b) / np.maximum(na * nb, 1e-12)
    out[flat_a | flat_b] = 0.0
    out[flat_a & flat_b] = 1.0
    return out


def window(n: int, scale: float, offset: float) -> np.ndarray:
    """(n, n) bilinear resampling matrix of the window [offset - scale, offset + scale] of
    [-1, 1] (pixel centres, edges clamped): row i mixes the source pixels of output i."""
    u = (2 * np.arange(n) + 1) / n - 1
    x = ((scale * u + offset + 1) * n - 1) / 2
    lo = np.clip(np.floor(x).astype(int), 0, n - 1)
    hi = np.clip(lo + 1, 0, n - 1)
    frac = np.clip(x - np.floor(x), 0, 1)
    out = np.zeros((n, n), np.float32)
    np.add.at(out, (np.arange(n), lo), 1 - frac)
    np.add.at(out, (np.arange(n), hi), frac)
    return out


def _views(h: int, w: int, zooms=ZOOMS) -> list[tuple[np.ndarray, np.ndarray]]:
    """(rows, cols) resampling matrices of the windows compared: the whole image, and
    windows of each zoom in the centre, at the four corners and the four edge midpoints."""
    out = [(np.eye(h, dtype=np.float32), np.eye(w, dtype=np.float32))]
    for s in zooms:
        m = 1 - s
        out += [(window(h, s, ty), window(w, s, tx)) for ty in (-m, 0, m) for tx in (-m, 0, m)]
    return out


def image_similarity(a: np.ndarray, b: np.ndarray, zooms=ZOOMS) -> np.ndarray:
    """Similarity of image pairs `a[i]`, `b[i]` (uint8 (P, C, H, W) each): (P,) float32, the
    best correlation over windows of either image (a crop of the other) resampled to the
    full size."""
    pa, pb = _pooled(a), _pooled(b)
    best = np.full(len(pa), -1.0, dtype=np.float32)
    for rows, cols in _views(pa.shape[1], pa.shape[2], zooms):
        for x, y in ((pa, pb), (pb, pa)):
            seen = rows @ x @ cols.T  # the window of x, resampled to full size
            best = np.maximum(best, _corr(seen, y))
    return best


def text_similarity(a, b) -> np.ndarray:
    """Cosine similarity of word-count rows `a[i]`, `b[i]` (sparse or dense (P, V))."""
    a = sparse.csr_matrix(a, dtype=np.float32).log1p()
    b = sparse.csr_matrix(b, dtype=np.float32).log1p()
    dot = np.asarray(a.multiply(b).sum(axis=1)).ravel()
    na = np.sqrt(np.asarray(a.multiply(a).sum(axis=1)).ravel())
    nb = np.sqrt(np.asarray(b.multiply(b).sum(axis=1)).ravel())
    return (dot / np.maximum(na * nb, 1e-12)).astype(np.float32)


SIMILARITY = {"image": image_similarity, "text": text_similarity}


def pair_similarity(kind: str, inputs_a, inputs_b, rows_a=None, rows_b=None,
                    chunk: int = 20000) -> np.ndarray:  # fmt: skip
    """Similarity of rows `rows_a[i]` of `inputs_a` and `rows_b[i]` of `inputs_b` (all rows,
    paired in order, when not given), gathered and compared in chunks of pairs."""
    fn = SIMILARITY[kind]
    n = inputs_a.shape[0] if rows_a is None else len(rows_a)
    parts = []
    for s in range(0, n, chunk):
        a = inputs_a[s : s + chunk] if rows_a is None else inputs_a[rows_a[s : s + chunk]]
        b = inputs_b[s : s + chunk] if rows_b is None else inputs_b[rows_b[s : s + chunk]]
        parts.append(fn(a, b))
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)
