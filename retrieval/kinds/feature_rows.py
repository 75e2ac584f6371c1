"""How a features collection stores an item: one uint8 row of float16 backbone features
followed by a small RGB copy (the raw-pixels baseline and thumbnails), and arrays derived
from stored rows, computed once while the rows live."""

from __future__ import annotations

import weakref

from semantic_hashing.retrieval.errors import SemhashError

PIXELS = 32  # side of the small RGB copy each row keeps (raw baseline, thumbnails)


def unpack_features(rows, dim: int):
    """The float32 (N, dim) features of stored rows."""
    import numpy as np

    rows = np.asarray(rows)
    return np.ascontiguousarray(rows[:, : 2 * dim]).view(np.float16).astype(np.float32)


# -- rows: float16 features, then the small pixels --------------------------------------------
def row_width(dim: int) -> int:
    return 2 * dim + 3 * PIXELS * PIXELS


def dim_of(rows) -> int:
    width = rows.shape[1]
    dim = (width - 3 * PIXELS * PIXELS) // 2
    if dim < 1 or row_width(dim) != width:
        raise SemhashError(f"stored rows of width {width} are not features rows.")
    return dim


def pack(features, pixels):
    """float32 (N, dim) features and uint8 (N, 3, PIXELS, PIXELS) pixels -> uint8 rows."""
    import numpy as np

    f16 = np.ascontiguousarray(features, dtype=np.float16).view(np.uint8)
    flat = np.ascontiguousarray(pixels, dtype=np.uint8).reshape(len(pixels), -1)
    return np.concatenate([f16.reshape(len(features), -1), flat], axis=1)


def empty_rows(backbone):
    import numpy as np

    return np.zeros((0, row_width(backbone.dim)), np.uint8)


def unpack_pixels(rows, dim: int):
    """The uint8 (N, 3, PIXELS, PIXELS) small copies of stored rows."""
    import numpy as np

    rows = np.asarray(rows)
    return np.ascontiguousarray(rows[:, 2 * dim :]).reshape(len(rows), 3, PIXELS, PIXELS)


def unit_rows(x):
    import numpy as np

    norm = np.linalg.norm(x, axis=1, keepdims=True)
    return np.ascontiguousarray(x / np.maximum(norm, 1e-12), dtype=np.float32)


# -- derived arrays of stored rows, kept while the rows live --------------------------------
_DERIVED: dict = {}


def derived(rows, what: str, make):
    """`make(rows)`, computed once per array of stored rows (a server keeps its rows and
    answers each baseline query without unpacking them again)."""
    key = (id(rows), what)
    if key not in _DERIVED:
        _DERIVED[key] = make(rows)
        weakref.finalize(rows, _DERIVED.pop, key, None)
    return _DERIVED[key]


def cosine_index(rows, dim: int):
    import faiss

    feats = unit_rows(unpack_features(rows, dim))
    index = faiss.IndexFlatIP(dim)
    index.add(feats)
    return index
