"""Candidate pairs for duplicate finding, from the Hamming index: never all pairs.

Every code asks an index over the collection's codes for its `max_candidates` nearest items
(a k-nearest search: memory and work per query stay bounded however crowded its region of
code space is) and keeps those within `radius` bits. Lookups (`--strategy`):

    flat   every code compared (exact; quadratic compute, no N x N matrix): the default up
           to FLAT_UP_TO items
    ivf    Hamming k-means cells of about IVF_CELL items, IVF_NPROBE of them scanned per
           query (approximate; about linear in N): the default above FLAT_UP_TO items
    hash   multi-index hashing over the distinct codes (indexer/hash_index.py), its tables
           chosen so that every item within `radius` bits is in a probed bucket
           (pigeonhole: nhash tables probed nflip bits around the query's addresses find
           every item within nhash * (nflip + 1) - 1 bits), so exact; its buckets hold
           about N / 2^b items each, so at a wide radius it costs N^2 / 2^b comparisons

Why the default changed from `hash` to flat / ivf: learned codes crowd, and at the default
radius (12 of 64 bits) on 19,000 items of the million-item bench every item had 20 others
in range; the hash lookup took 9.3 CPU-s there, the flat k-nearest search 0.8, the ivf one
0.4 to 0.7 (finding 97-98% of the verified pairs the flat one finds, and as many verified
pairs in all: the 20 nearest are cut among ties).
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

QUERY_CHUNK = 16384  # queries per k-nearest search (FAISS spreads them over the cores)
LOOKUPS = ("flat", "ivf", "hash")  # candidate lookups (--strategy); None: flat or ivf by size
FLAT_UP_TO = 100_000  # the automatic lookup: an exact flat scan up to this many codes
IVF_CELL = 500  # ivf: items per k-means cell (nlist = N / IVF_CELL)
IVF_NPROBE = 32  # ivf: cells scanned per query


@dataclass
class Pairs:
    """Candidate pairs: positions or ids `a`, `b` and their Hamming distance."""

    a: np.ndarray
    b: np.ndarray
    distance: np.ndarray

    def __len__(self) -> int:
        return len(self.a)


def check_radius(radius: int, bits: int, width: str = "the code length") -> int:
    """`radius` within 0..`bits`; `width` names what `bits` is in the sentence."""
    if not 0 <= radius <= bits:
        raise SemhashError(f"--radius must be between 0 and {bits} ({width}), not {radius}.")
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


def lookup_name(strategy: str | None, n: int) -> str:
    """The lookup used for `n` codes: as asked, else flat up to FLAT_UP_TO, ivf above."""
    return strategy or ("flat" if n <= FLAT_UP_TO else "ivf")


def lookup_index(bits: int, codes: np.ndarray, ids: np.ndarray, radius: int,
                 strategy: str | None = None):  # fmt: skip
    """An in-memory index over `codes` for k-nearest candidate searches (ivf over fewer than
    two cells' worth of codes is the flat scan: exact, and as fast there)."""
    name = lookup_name(strategy, len(codes))
    if name == "ivf" and len(codes) >= 2 * IVF_CELL:
        nlist = min(1 << 16, len(codes) // IVF_CELL)
        log.debug("dedup candidates: ivf, %d cells, %d probed", nlist, IVF_NPROBE)
        return build("ivf", bits, codes, ids, StrategyParams(nlist=nlist, nprobe=IVF_NPROBE))
    params = exact_hash_params(bits, len(codes), radius) if name == "hash" else None
    if params is None:
        log.debug("dedup candidates: flat scan (radius %d)", radius)
        return build("flat", bits, codes, ids, StrategyParams())
    log.debug("dedup candidates: %d hash tables of %d bits, %d flips (exact to %d bits)",
              params.nhash, params.hash_bits, params.nflip, radius)  # fmt: skip
    return build("hash", bits, codes, ids, params)


def neighbours(index: BinaryIndex | DistinctHashIndex, queries: np.ndarray, radius: int,
               max_candidates: int, show: bool = True) -> Pairs:  # fmt: skip
    """(query row, item id, distance) for the nearest `max_candidates` items of each query
    within `radius`, in query chunks (among items tied at the last place, those the index
    returns)."""
    rows, found, dist = [], [], []
    starts = range(0, len(queries), QUERY_CHUNK)
    for start in progress(starts, show, desc="candidates", unit="chunk"):
        d, i = index.search(queries[start : start + QUERY_CHUNK], max_candidates)
        keep = (i >= 0) & (d <= radius)
        q = np.broadcast_to(np.arange(start, start + len(d))[:, None], d.shape)
        rows.append(q[keep].astype(np.int64))
        found.append(i[keep].astype(np.int64))
        dist.append(d[keep].astype(np.int32))
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
    key = np.unique(np.stack([lo, hi, d.astype(np.int64)], axis=1), axis=0)
    return Pairs(key[:, 0], key[:, 1], key[:, 2])
