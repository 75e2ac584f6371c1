"""Raw-data baselines that answer the same queries without codes, for comparison."""

from __future__ import annotations

import weakref

import faiss
import numpy as np

from semantic_hashing.retrieval.errors import SemhashError

_FLAT: dict[int, faiss.IndexFlatL2] = {}  # id(raw array) -> its float index, while it lives
KEEP_FLAT_BYTES = 1 << 30  # float indexes up to this size are kept (60k images: 188 MB)


def _flat_l2(raw: np.ndarray, chunk: int) -> faiss.IndexFlatL2:
    """The float index over `raw`, built once per array when small enough: a server that
    keeps its stored inputs answers each baseline query without converting them again."""
    key = id(raw)
    if key in _FLAT:
        return _FLAT[key]
    index = faiss.IndexFlatL2(raw.shape[1])
    for start in range(0, len(raw), chunk):
        index.add(np.ascontiguousarray(raw[start : start + chunk], dtype=np.float32) / 255.0)
    if raw.size * 4 <= KEEP_FLAT_BYTES:
        _FLAT[key] = index
        weakref.finalize(raw, _FLAT.pop, key, None)  # dropped with the array
    return index


def raw_l2(raw: np.ndarray | None, queries: np.ndarray, k: int, chunk: int = 65536):
    """Exact Euclidean search on raw pixels scaled to [0, 1]: (D distances, I rows of `raw`)."""
    if raw is None or not len(raw):
        raise SemhashError("this collection keeps no raw data for the raw baseline.")
    dim = raw.shape[1]
    index = _flat_l2(raw, chunk)
    q = np.ascontiguousarray(queries.reshape(len(queries), dim), dtype=np.float32) / 255.0
    D, I = index.search(q, min(k, len(raw)))
    return np.sqrt(np.maximum(D, 0)), I.astype(np.int64)


def tfidf_cosine(raw_counts, query_counts, k: int):
    """Exact TF-IDF cosine search over word counts: (D = 1 - cosine, I rows of `raw_counts`).

    IDF comes from the collection; term frequencies are sublinear (1 + log tf)."""
    from sklearn.feature_extraction.text import TfidfTransformer

    if raw_counts is None or not raw_counts.shape[0]:
        raise SemhashError("this collection keeps no word counts for the TF-IDF baseline.")
    tfidf = TfidfTransformer(sublinear_tf=True).fit(raw_counts)
    db = tfidf.transform(raw_counts).astype(np.float32).T.tocsr()
    q = tfidf.transform(query_counts).astype(np.float32)
    k = min(k, raw_counts.shape[0])
    D, I = [], []
    for start in range(0, q.shape[0], 256):
        sims = (q[start : start + 256] @ db).toarray()
        top = np.argsort(-sims, axis=1, kind="stable")[:, :k]
        D.append(1.0 - np.take_along_axis(sims, top, 1))
        I.append(top)
    return np.concatenate(D), np.concatenate(I).astype(np.int64)
