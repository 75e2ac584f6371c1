"""Raw-data baselines that answer the same queries without codes, for comparison."""

from __future__ import annotations

import faiss
import numpy as np

from retrieval.errors import SemhashError


def raw_l2(raw: np.ndarray | None, queries: np.ndarray, k: int, chunk: int = 65536):
    """Exact Euclidean search on raw pixels scaled to [0, 1]: (D distances, I ids = rows)."""
    if raw is None or not len(raw):
        raise SemhashError("this collection keeps no raw data for the raw baseline.")
    dim = raw.shape[1]
    index = faiss.IndexFlatL2(dim)
    for start in range(0, len(raw), chunk):
        index.add(np.ascontiguousarray(raw[start : start + chunk], dtype=np.float32) / 255.0)
    q = np.ascontiguousarray(queries.reshape(len(queries), dim), dtype=np.float32) / 255.0
    D, I = index.search(q, min(k, len(raw)))
    return np.sqrt(np.maximum(D, 0)), I.astype(np.int64)
