"""How alike two stored model inputs are: the verification stage of duplicate finding.

Semantic codes put different-but-alike items close (two different white sneakers can be one
bit apart), so every candidate pair from the Hamming index is checked on the raw inputs the
collection keeps (raw/). Each input kind verifies with its own (`Kind.pair_similarity`), in
[-1, 1] (1 = the same); these are the image and text ones:

    image  Pearson correlation of the gray, 2x2-pooled inputs, the best over 19 views: the
           whole image, and sub-windows of 95% and 90% of either image (centre, corners,
           edge midpoints) resampled to full size, so a crop of up to 10% lines up again;
           the standardisation ignores brightness and contrast, the pooling most JPEG
           artefacts and the blur of rescaling
    text   cosine of the log(1 + counts) vectors: the same words in the same numbers

`dct_hash` gives near copies codes a few bits apart (the low frequencies of the gray image
against their median, as a perceptual hash does), for kinds whose own codes do not.
"""

from __future__ import annotations

import functools

import numpy as np
from scipy import sparse

ZOOMS = (0.95, 0.9)  # sub-windows compared (image similarity): a crop of up to 10%


def _pooled(x: np.ndarray) -> np.ndarray:
    """(P, C, H, W) uint8 -> (P, H/2, W/2) float32 gray."""
    gray = np.asarray(x, dtype=np.float32).mean(axis=1)
    p, h, w = gray.shape
    h2, w2 = h // 2, w // 2
    return gray[:, : 2 * h2, : 2 * w2].reshape(p, h2, 2, w2, 2).mean(axis=(2, 4))


def _standard(x: np.ndarray, centred: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Rows (..., D) centred (unless already) and scaled to unit norm, in place where they
    are float32, and the mask of flat rows (left zero): the dot product of two such rows is
    their Pearson correlation."""
    x = np.asarray(x, dtype=np.float32)
    if not centred:
        x = x - x.mean(axis=-1, keepdims=True)
    norm = np.sqrt(np.einsum("...d,...d->...", x, x))
    flat = norm < 1e-3
    x /= np.maximum(norm, 1e-12)[..., None]
    x[flat] = 0.0
    return x, flat


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


@functools.cache
def _view_operator(h: int, w: int, zooms=ZOOMS) -> np.ndarray:
    """(h*w, V*h*w): a flattened image times this is every view of it, each resampled to
    full size and centred (view v = rows_v X cols_v^T is kron(rows_v, cols_v) on the
    flattened X, and centring is linear too): one matrix product for all views."""
    d = h * w
    centre = np.eye(d, dtype=np.float64) - 1.0 / d
    blocks = [(centre @ np.kron(rows, cols)).T for rows, cols in _views(h, w, zooms)]
    return np.ascontiguousarray(np.concatenate(blocks, axis=1), dtype=np.float32)


def item_views(pooled: np.ndarray, zooms=ZOOMS) -> tuple[np.ndarray, np.ndarray]:
    """Pooled images (M, h, w) -> every view of each, resampled to full size and
    standardised, (M, V, h*w), with the mask of flat views (M, V)."""
    m, h, w = pooled.shape
    op = _view_operator(h, w, tuple(zooms))
    flat = pooled.reshape(m, h * w)
    flat = flat - flat.mean(axis=1, keepdims=True)  # a flat image's views are exactly 0
    out = (flat @ op).reshape(m, -1, h * w)
    return _standard(out, centred=True)


def _best_view(views, vflat, local, target, tflat, width: int = 32) -> np.ndarray:
    """max over v of corr(views[local[p], v], target[p]) for each pair p (two flat
    images are alike, one flat image is like nothing). `local` is sorted: each item's
    targets are laid out in rows of up to `width` and multiplied with its views at once, so
    an item's views are read once per row, not once per pair (gathering them per pair took
    most of the time)."""
    m = len(views)
    counts = np.bincount(local, minlength=m)
    rank = np.arange(len(local)) - (np.cumsum(counts) - counts)[local]
    width = int(max(1, min(width, counts.max(initial=1))))
    per_item = -(-counts // width)
    row = (np.cumsum(per_item) - per_item)[local] + rank // width
    col = rank % width
    row_item = np.repeat(np.arange(m), per_item)
    grid = np.zeros((len(row_item), width, target.shape[1]), np.float32)
    grid[row, col] = target
    seen = views if len(row_item) == m else views[row_item]  # one row per item: as they are
    corr = np.matmul(seen, grid.transpose(0, 2, 1))  # (rows, views, width)
    flat = np.zeros((len(row_item), width), bool)
    flat[row, col] = tflat
    corr[vflat[row_item][:, :, None] & flat[:, None, :]] = 1.0
    return corr.max(axis=1)[row, col]


def _one_way(src: np.ndarray, src_rows, dst: np.ndarray, dst_rows, block: int) -> np.ndarray:
    """Best correlation of a window of `src[src_rows[p]]` with all of `dst[dst_rows[p]]`
    (pooled inputs), the views of each source item computed once, `block` items at a time."""
    n = len(src_rows)
    order = np.argsort(src_rows, kind="stable")
    items, first = np.unique(src_rows[order], return_index=True)
    bounds = np.r_[first, n]
    out = np.empty(n, np.float32)
    for g in range(0, len(items), block):
        some = items[g : g + block]
        pairs = order[bounds[g] : bounds[min(g + block, len(items))]]
        views, vflat = item_views(src[some])
        target, tflat = _standard(dst[dst_rows[pairs]].reshape(len(pairs), -1))
        out[pairs] = _best_view(views, vflat, np.searchsorted(some, src_rows[pairs]), target, tflat)
    return out


def _pooled_rows(inputs, rows: np.ndarray, chunk: int = 65536) -> np.ndarray:
    """`_pooled(inputs[rows])`, a chunk at a time: the float copy of a million colour
    inputs would take 12 GB, the pooled rows take 1 KB each."""
    out = np.empty((len(rows), inputs.shape[2] // 2, inputs.shape[3] // 2), np.float32)
    for s in range(0, len(rows), chunk):
        out[s : s + chunk] = _pooled(inputs[rows[s : s + chunk]])
    return out


def image_pairs(inputs_a, inputs_b, rows_a, rows_b, block: int = 1024) -> np.ndarray:
    """Similarity of `inputs_a[rows_a[p]]` and `inputs_b[rows_b[p]]`: each item pooled and
    its views made once, however many pairs it is in."""
    if len(rows_a) == 0:
        return np.zeros(0, dtype=np.float32)
    if inputs_a is inputs_b:  # one collection against itself: each item pooled once
        u = np.union1d(rows_a, rows_b)
        pa = pb = _pooled_rows(inputs_a, u)
        ia, ib = np.searchsorted(u, rows_a), np.searchsorted(u, rows_b)
    else:
        ua, ia = np.unique(rows_a, return_inverse=True)
        ub, ib = np.unique(rows_b, return_inverse=True)
        pa, pb = _pooled_rows(inputs_a, ua), _pooled_rows(inputs_b, ub)
    return np.maximum(_one_way(pa, ia, pb, ib, block), _one_way(pb, ib, pa, ia, block))


def image_similarity(a: np.ndarray, b: np.ndarray, zooms=ZOOMS) -> np.ndarray:
    """Similarity of image pairs `a[i]`, `b[i]` (uint8 (P, C, H, W) each): (P,) float32, the
    best correlation over windows of either image (a crop of the other) resampled to the
    full size."""
    pa, pb = _pooled(a), _pooled(b)
    rows = np.arange(len(pa))
    best = np.full(len(pa), -1.0, dtype=np.float32)
    for x, y in ((pa, pb), (pb, pa)):
        views, vflat = item_views(x, zooms)
        target, tflat = _standard(y.reshape(len(y), -1))
        best = np.maximum(best, _best_view(views, vflat, rows, target, tflat))
    return best


def text_similarity(a, b) -> np.ndarray:
    """Cosine similarity of word-count rows `a[i]`, `b[i]` (sparse or dense (P, V))."""
    a = sparse.csr_matrix(a, dtype=np.float32).log1p()
    b = sparse.csr_matrix(b, dtype=np.float32).log1p()
    dot = np.asarray(a.multiply(b).sum(axis=1)).ravel()
    na = np.sqrt(np.asarray(a.multiply(a).sum(axis=1)).ravel())
    nb = np.sqrt(np.asarray(b.multiply(b).sum(axis=1)).ravel())
    return (dot / np.maximum(na * nb, 1e-12)).astype(np.float32)


def text_pairs(inputs_a, inputs_b, rows_a, rows_b, chunk: int = 20000) -> np.ndarray:
    """`text_similarity` of the paired rows, gathered `chunk` pairs at a time."""
    parts = [text_similarity(inputs_a[rows_a[s : s + chunk]], inputs_b[rows_b[s : s + chunk]])
             for s in range(0, len(rows_a), chunk)]  # fmt: skip
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)


def _dct_matrix(n: int) -> np.ndarray:
    """The orthonormal DCT-II matrix (n, n)."""
    k, i = np.arange(n)[:, None], np.arange(n)[None, :]
    m = np.cos(np.pi * (2 * i + 1) * k / (2 * n)) * np.sqrt(2.0 / n)
    m[0] /= np.sqrt(2.0)
    return m.astype(np.float32)


def dct_hash(x: np.ndarray, side: int = 8) -> np.ndarray:
    """(N, C, H, W) uint8 images -> (N, side * side / 8) packed codes: the side x side
    lowest 2-D DCT frequencies of the gray image, each above or below the median of all
    but the constant one. Data-independent: a file gets one code in any collection."""
    x = np.asarray(x, dtype=np.float32)
    gray = x[:, 0] if x.shape[1] < 3 else 0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2]
    rows, cols = _dct_matrix(gray.shape[1]), _dct_matrix(gray.shape[2])
    coef = (rows[:side] @ gray @ cols[:side].T).reshape(len(gray), side * side)
    return np.packbits(coef > np.median(coef[:, 1:], axis=1, keepdims=True), axis=1)
