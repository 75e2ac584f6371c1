"""Asymmetric distances between an unquantised query and stored binary codes.

The query is encoded by the model anyway, so there is no need to round it to bits before
comparing it with the database (Gordo, Perronnin, Gong & Lazebnik, "Asymmetric distances for
binary embeddings", TPAMI 2014). Every quantiser of `retrieval.codes` is
`bits = real @ projection > thresholds`; the bits that read the same projected value (one
bit per value for median, half and ITQ cuts, several for a thermometer component) form a
*group*, and the number of its bits that are set is the item's *level* on that value. A
`LevelTable` keeps, for each group and level, the mean projected value of the training
items at that level. The asymmetric distance of a query to a stored code is then

    sum over groups g of (query's projected value on g - centroid[g, level of the code on g])^2

the squared Euclidean distance between the query and the code's reconstruction, computed
from the 64 stored bits and a table of a few hundred numbers: the database keeps its size,
only the query side is finer than Hamming. Search uses it to re-rank a Hamming shortlist.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def bit_groups(projection: np.ndarray | None, bits: int) -> np.ndarray:
    """(bits,) group number of each bit: bits with the same projection column share one
    (in order of first appearance); without a projection every bit is its own group."""
    if projection is None:
        return np.arange(bits)
    _, first, inverse = np.unique(
        np.ascontiguousarray(projection.T), axis=0, return_index=True, return_inverse=True
    )
    rank = np.empty(len(first), dtype=np.int64)
    rank[np.argsort(first)] = np.arange(len(first))  # number groups by first bit
    return rank[inverse.ravel()]


@dataclass
class LevelTable:
    """Centroids (groups, most bits in a group + 1) of the projected training values at each
    level, and the group of each bit. Levels a group cannot reach are NaN."""

    groups: np.ndarray  # (bits,) int
    centroids: np.ndarray  # (n_groups, max_level + 1) float32

    @property
    def columns(self) -> np.ndarray:
        """(n_groups,) the first bit (projected column) of each group."""
        return np.unique(self.groups, return_index=True)[1]

    def levels(self, packed: np.ndarray) -> np.ndarray:
        """(N, n_groups) level of each packed code on each group."""
        bits = np.unpackbits(np.asarray(packed, dtype=np.uint8), axis=1)[:, : len(self.groups)]
        out = np.zeros((len(bits), len(self.centroids)), dtype=np.int64)
        np.add.at(out.T, self.groups, bits.T.astype(np.int64))
        return out

    def decode(self, packed: np.ndarray) -> np.ndarray:
        """(N, n_groups) float32 reconstruction of packed codes in the projected space."""
        levels = self.levels(packed)
        return self.centroids[np.arange(len(self.centroids))[None, :], levels]

    def query_values(self, projected: np.ndarray) -> np.ndarray:
        """(N, n_groups) the queries' projected values, one per group."""
        return np.asarray(projected, dtype=np.float32)[:, self.columns]

    def distances(self, query_values: np.ndarray, decoded: np.ndarray) -> np.ndarray:
        """(len(query_values), len(decoded)) squared Euclidean distances."""
        q = np.asarray(query_values, dtype=np.float32)
        d = np.asarray(decoded, dtype=np.float32)
        out = (q * q).sum(1)[:, None] - 2 * (q @ d.T) + (d * d).sum(1)[None, :]
        return np.maximum(out, 0)

    def rerank(self, query_values: np.ndarray, decoded: np.ndarray, candidates) -> list:
        """For each query row, its `candidates` (row numbers into `decoded`) ordered by
        asymmetric distance, ties in the order given: [(squared distances, rows), ...]."""
        out = []
        for r, rows in enumerate(candidates):
            dist = self.distances(query_values[r : r + 1], decoded[rows])[0]
            order = np.argsort(dist, kind="stable")
            out.append((dist[order], np.asarray(rows)[order]))
        return out


def fit_levels(projected: np.ndarray, thresholds: np.ndarray, groups: np.ndarray) -> LevelTable:
    """The table for training items' `projected` values (N, bits) cut at `thresholds`: each
    level's centroid is the mean value of the items at that level; a level no training item
    reaches (possible only with ties) gets the midpoint of the cuts around it."""
    projected = np.asarray(projected, dtype=np.float64)
    bits = projected > np.asarray(thresholds)[None, :]
    n_groups = int(groups.max()) + 1 if len(groups) else 0
    size = np.bincount(groups, minlength=n_groups)
    centroids = np.full((n_groups, int(size.max(initial=0)) + 1), np.nan)
    for g in range(n_groups):
        cols = np.flatnonzero(groups == g)
        value, level = projected[:, cols[0]], bits[:, cols].sum(1)
        cuts = np.sort(np.asarray(thresholds, dtype=np.float64)[cols])
        for lv in range(len(cols) + 1):
            at = level == lv
            centroids[g, lv] = value[at].mean() if at.any() else _midpoint(cuts, lv)
    return LevelTable(np.asarray(groups, dtype=np.int64), centroids.astype(np.float32))


def _midpoint(cuts: np.ndarray, level: int) -> float:
    """A stand-in value for an empty level: between its two cuts, or at the outer cut."""
    low = cuts[level - 1] if level > 0 else cuts[0]
    high = cuts[level] if level < len(cuts) else cuts[-1]
    return float((low + high) / 2)
