"""Candidate pairs for duplicate finding, from the Hamming index: never all pairs.

Every code is looked up in an index over the collection's codes, keeping the items within
`radius` bits (at most `max_candidates` of them, nearest first). The default lookup is
multi-index hashing over the distinct codes (indexer/hash_index.py) with its tables chosen
so that the lookup is exact at that radius: with `nhash` tables probed `nflip` bits around
the query's addresses, every item within nhash * (nflip + 1) - 1 bits is found
(pigeonhole), so nhash = ceil((radius + 1) / (nflip + 1)). Among the nflip values 0-2 the
one with the fewest expected bucket visits is used (probes per table times items per
bucket, about 1 + N / 2^b). The cost then grows with N times the items per probed bucket,
not with N^2; `strategy="flat"` compares every pair of codes instead (exact, quadratic in
compute, still no N x N matrix in memory).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np

from semantic_hashing.indexer.binary_index import BinaryIndex
from semantic_hashing.indexer.hash_index import DistinctHashIndex
from semantic_hashing.indexer.strategies import StrategyParams, build
from semantic_hashing.retrieval.errors import SemhashError
from semantic_hashing.retrieval.progress import progress

log = logging.getLogger(__name__)

QUERY_CHUNK = 1024  # queries per range search: their results are held at once
LOOKUPS = ("hash", "flat")  # candidate lookups: exact hash tables (the default), a flat scan


@dataclass
class Pairs:
    """Candidate pairs: positions or ids `a`, `b` and their Hamming distance."""

    a: np.ndarray
    b: np.ndarray
    distance: np.ndarray

    def __len__(self) -> int:
        return len(self.a)


def check_radius(radius: int, bits: int) -> int:
    if not 0 <= radius <= bits:
        raise SemhashError(
            f"--radius must be between 0 and {bits} (the code length), not {radius}."
        )
    return int(radius)


def exact_hash_params(bits: int, n: int, radius: int) -> StrategyParams | None:
    """Hash tables that find every item within `radius` bits, or None where none fit."""
    best, best_cost = None, math.inf
    for nflip in (0, 1, 2):
        nhash = math.ceil((radius + 1) / (nflip + 1))
        if nhash > bits:
            continue
        b = min(32, bits // nhash)
        if b < 4 or b <= nflip:
            continue
        probes = sum(math.comb(b, i) for i in range(nflip + 1))
        cost = nhash * probes * (1 + n / 2**b)
        if cost < best_cost:
            best, best_cost = StrategyParams(nhash=nhash, hash_bits=b, nflip=nflip), cost
    return best


def lookup_index(bits: int, codes: np.ndarray, ids: np.ndarray, radius: int,
                 strategy: str | None = None):  # fmt: skip
    """An in-memory index over `codes` answering range queries at `radius` exactly."""
    params = None if strategy == "flat" else exact_hash_params(bits, len(codes), radius)
    if params is None:
        log.debug("dedup candidates: flat scan (radius %d)", radius)
        return build("flat", bits, codes, ids, StrategyParams())
    log.debug("dedup candidates: %d hash tables of %d bits, %d flips (exact to %d bits)",
              params.nhash, params.hash_bits, params.nflip, radius)  # fmt: skip
    return build("hash", bits, codes, ids, params)


def neighbours(index: BinaryIndex | DistinctHashIndex, queries: np.ndarray, radius: int,
               max_candidates: int, show: bool = True) -> Pairs:  # fmt: skip
    """(query row, item id, distance) for the nearest `max_candidates` items of each query
    within `radius`, in query chunks (memory stays linear in the number of pairs kept)."""
    rows, found, dist = [], [], []
    starts = range(0, len(queries), QUERY_CHUNK)
    for start in progress(starts, show, desc="candidates", unit="chunk"):
        for q, (d, i) in enumerate(index.range_search(queries[start : start + QUERY_CHUNK],
                                                      radius), start):  # fmt: skip
            d, i = d[:max_candidates], i[:max_candidates]
            rows.append(np.full(len(i), q, dtype=np.int64))
            found.append(i)
            dist.append(d)
    if not rows:
        return Pairs(*(np.zeros(0, np.int64) for _ in range(3)))
    return Pairs(np.concatenate(rows), np.concatenate(found), np.concatenate(dist))


def self_pairs(ids: np.ndarray, codes: np.ndarray, bits: int, radius: int, max_candidates: int,
               strategy: str | None = None) -> Pairs:  # fmt: skip
    """Unordered pairs of distinct items (ids a < b) within `radius` bits of each other."""
    index = lookup_index(bits, codes, ids, radius, strategy)
    found = neighbours(index, codes, radius, max_candidates + 1)  # +1: the item itself
    a = ids[found.a]
    keep = a != found.b
    lo, hi = np.minimum(a, found.b)[keep], np.maximum(a, found.b)[keep]
    d = found.distance[keep]
    if not len(lo):
        return Pairs(lo, hi, d)
    key = np.unique(np.stack([lo, hi, d], axis=1), axis=0)
    return Pairs(key[:, 0], key[:, 1], key[:, 2])
