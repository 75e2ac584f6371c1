"""Retrieval metrics on ranked neighbour lists (pure numpy, no index, no model).

`relevant` is a boolean matrix (queries, ranked neighbours): `relevant[q, j]` says whether
the j-th neighbour returned for query q shares the query's label.
"""

from __future__ import annotations

import numpy as np


def relevance(query_labels: np.ndarray, db_labels: np.ndarray, ranked: np.ndarray) -> np.ndarray:
    """Boolean (Q, K): is the j-th ranked database item of query q relevant? (-1 = no item)."""
    ranked = np.asarray(ranked)
    rel = db_labels[np.clip(ranked, 0, None)] == np.asarray(query_labels)[:, None]
    return rel & (ranked >= 0)


def precision_at_k(relevant: np.ndarray, k: int) -> float:
    """Mean over queries of the fraction of the top-k that is relevant."""
    return float(relevant[:, :k].sum(axis=1).mean() / k)


def average_precision_at_k(relevant: np.ndarray, k: int) -> np.ndarray:
    """AP over the top-k of each query, normalised by the relevant items retrieved there
    (0 for a query with none)."""
    rel = relevant[:, :k].astype(np.float64)
    hits = np.cumsum(rel, axis=1)
    precision = hits / np.arange(1, rel.shape[1] + 1)
    n_rel = rel.sum(axis=1)
    return np.divide((precision * rel).sum(axis=1), n_rel, out=np.zeros(len(rel)), where=n_rel > 0)


def mean_average_precision(relevant: np.ndarray, k: int) -> float:
    return float(average_precision_at_k(relevant, k).mean())


def rank_by_distance(dist: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k smallest distances per row; ties keep database order (stable)."""
    k = min(k, dist.shape[1])
    return np.argsort(dist, axis=1, kind="stable")[:, :k]


def hits_at(relevant: np.ndarray, ks, chunk: int = 256) -> np.ndarray:
    """(Q, len(ks)) int: relevant items among the first k of each ranked list."""
    ks = np.asarray(ks, dtype=np.int64)
    if ks.size and (ks.min() < 1 or ks.max() > relevant.shape[1]):
        raise ValueError(f"every k must lie in 1..{relevant.shape[1]} (the ranked list length)")
    out = np.empty((len(relevant), len(ks)), dtype=np.int64)
    for i in range(0, len(relevant), chunk):
        out[i : i + chunk] = np.cumsum(relevant[i : i + chunk], axis=1, dtype=np.int32)[:, ks - 1]
    return out


def recall_at_k(relevant: np.ndarray, n_relevant: np.ndarray, ks) -> np.ndarray:
    """Mean over queries of (relevant in the top k) / (relevant in the whole database), per k;
    a query with no relevant item in the database counts 0."""
    hits = hits_at(relevant, ks).astype(np.float64)
    n = np.asarray(n_relevant, dtype=np.float64)[:, None]
    return np.divide(hits, n, out=np.zeros_like(hits), where=n > 0).mean(axis=0)
