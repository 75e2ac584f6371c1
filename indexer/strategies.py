"""Search strategies over a collection's codes: exact flat scan, hash lookup, IVF, HNSW.

    flat   IndexBinaryIDMap2 over IndexBinaryFlat: every code is compared (the primary
           index, `codes.index`).
    hash   multi-index hashing (FAISS IndexBinaryMultiHash) over the distinct codes
           (indexer/hash_index.py): the code is cut into `nhash` address substrings of `b`
           bits, each the key of one hash table. A query looks up its own addresses and
           every address within `radius` flipped bits of them, re-ranks the union of those
           buckets by the Hamming distance of the full code, and expands the nearest codes
           to their items. By the pigeonhole principle every item within
           nhash * (radius + 1) - 1 bits of the query (on the hashed bits) is found,
           whatever the collection size.
    ivf    IndexBinaryIVF: `nlist` Hamming k-means cells, `nprobe` of them scanned.
    hnsw   IndexBinaryHNSW: a navigable small-world graph of degree `M`, beam `ef_search`.

A secondary index is kept beside the primary one as `codes.<strategy>.index` with a JSON
sidecar recording the count and a fingerprint of the primary ids and codes, plus the build
parameters; it is rebuilt when either differs. Every strategy returns FAISS's (D, I) with the
collection's own int64 ids, each row sorted by (distance, id), distances exact Hamming.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import faiss
import numpy as np

from semantic_hashing.indexer.binary_index import BinaryIndex
from semantic_hashing.indexer.hash_index import DistinctHashIndex
from semantic_hashing.retrieval.errors import SemhashError
from semantic_hashing.retrieval.fsutil import atomic_write

log = logging.getLogger(__name__)

STRATEGIES = ("flat", "hash", "ivf", "hnsw")
FLAT_BELOW = 2_000_000  # default strategy: an exact scan below this many items, ivf above
LAYOUT = {"hash": 2}  # file layout version: 2 = distinct codes (older files are rebuilt)
BUILD_FIELDS = {"hash": ("nhash", "b"), "ivf": ("nlist",), "hnsw": ("M", "ef_construction")}
MAX_PROBES = 100_000  # hash buckets looked up per query
# (field, option, lowest, highest): "bits" is the code length; 0 means automatic where allowed
KNOBS = (
    ("nhash", "--nhash", 0, "bits"),
    ("b", "--hash-bits", 0, 64),
    ("radius", "--hash-radius", 0, 64),
    ("nlist", "--nlist", 0, 1 << 20),
    ("nprobe", "--nprobe", 1, 1 << 20),
    ("M", "--hnsw-m", 2, 256),
    ("ef_construction", "ef_construction", 1, 1 << 16),
    ("ef_search", "--ef-search", 1, 1 << 16),
)


@dataclass
class StrategyParams:
    """Build parameters (changing one rebuilds the index) and search-time knobs."""

    nhash: int = 0  # hash: tables (0: as many b-bit substrings as the code holds)
    b: int = 0  # hash: address bits per table (0: about log2 N, 8..32)
    radius: int = 1  # hash: address bits flipped per table at query time (nflip)
    nlist: int = 0  # ivf: cells (0: about 4 sqrt N, at most N / 39 and 4096)
    nprobe: int = 16  # ivf: cells scanned per query
    M: int = 16  # hnsw: graph degree
    ef_construction: int = 40  # hnsw: beam width while building
    ef_search: int = 128  # hnsw: beam width while searching (at least k)

    def validate(self, bits: int) -> None:
        """Refuse knobs outside their range before FAISS sees them (a negative graph degree
        grows without bound, more flipped bits than address bits never ends)."""
        for name, flag, low, high in KNOBS:
            value = getattr(self, name)
            top = bits if high == "bits" else high
            if not isinstance(value, int) or not low <= value <= top:
                raise SemhashError(f"{flag} must be an integer from {low} to {top}, not {value}.")

    def resolved(self, strategy: str, bits: int, n: int) -> StrategyParams:
        """A copy with the automatic (0) build parameters filled in for `n` items, checked
        against the code length and the collection size."""
        self.validate(bits)
        out = StrategyParams(**asdict(self))
        if strategy == "hash":
            out.b = self.b or min(32, max(8, round(math.log2(max(n, 2)))), bits)
            out.nhash = self.nhash or max(1, bits // out.b)
            if out.nhash * out.b > bits:
                raise SemhashError(
                    f"{out.nhash} tables of {out.b} bits do not fit in {bits}-bit codes."
                )
            if out.radius > out.b:
                raise SemhashError(f"--hash-radius {out.radius} flips more bits than a table's "
                                   f"address has ({out.b}).")  # fmt: skip
            probes = out.nhash * sum(math.comb(out.b, r) for r in range(out.radius + 1))
            if probes > MAX_PROBES:
                raise SemhashError(
                    f"--hash-radius {out.radius} with {out.nhash} tables of {out.b} bits probes "
                    f"{probes:,} buckets per query (at most {MAX_PROBES:,}); lower it."
                )
        if strategy == "ivf":
            out.nlist = self.nlist or int(min(4096, max(1, n // 39), max(1, 4 * math.sqrt(n))))
            if n and out.nlist > n:
                raise SemhashError(f"--nlist {out.nlist} is more cells than the {n} items.")
        return out

    def build_key(self, strategy: str) -> dict:
        return {name: getattr(self, name) for name in BUILD_FIELDS.get(strategy, ())}


def default_strategy(n: int) -> str:
    """The exact flat scan for small collections, IVF for large ones: on Fashion-MNIST codes
    (`semhash bench-scale`, README) the flat scan took 0.9 ms at 1M and 9.7 ms at 10M, IVF
    0.04-0.09 ms from 60k to 10M at recall 0.92-0.98, the hash lookup 0.12-0.27 ms."""
    return "flat" if n < FLAT_BELOW else "ivf"


def codes_fingerprint(ids: np.ndarray, codes: np.ndarray) -> str:
    digest = hashlib.sha256(np.ascontiguousarray(ids, dtype=np.int64).tobytes())
    digest.update(np.ascontiguousarray(codes, dtype=np.uint8).tobytes())
    return digest.hexdigest()[:16]


# -- building -----------------------------------------------------------------------------
def build(
    strategy: str, bits: int, codes: np.ndarray, ids: np.ndarray, params: StrategyParams
) -> BinaryIndex | DistinctHashIndex:
    """A new index of `strategy` over `codes` with their own `ids` (params resolved)."""
    if strategy not in STRATEGIES:
        raise SemhashError(f"unknown strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}.")
    codes = np.ascontiguousarray(codes, dtype=np.uint8)
    ids = np.ascontiguousarray(ids, dtype=np.int64)
    p = params.resolved(strategy, bits, len(codes))
    if strategy == "hash":
        out = DistinctHashIndex.build(bits, codes, ids, p.nhash, p.b)
        configure(out, strategy, p)
        return out
    if strategy == "flat":
        index = faiss.IndexBinaryIDMap2(faiss.IndexBinaryFlat(bits))
    elif strategy == "ivf":
        index = _trained_ivf(bits, codes, p.nlist)
    else:
        hnsw = faiss.IndexBinaryHNSW(bits, p.M)
        hnsw.hnsw.efConstruction = p.ef_construction
        index = faiss.IndexBinaryIDMap(hnsw)
    if len(codes):
        index.add_with_ids(codes, ids)
    out = BinaryIndex(bits, index)
    configure(out, strategy, p)
    return out


def _trained_ivf(bits: int, codes: np.ndarray, nlist: int) -> faiss.IndexBinaryIVF:
    if len(codes) < nlist:
        raise SemhashError(f"ivf needs at least nlist = {nlist} items; the index has {len(codes)}.")
    ivf = faiss.IndexBinaryIVF(faiss.IndexBinaryFlat(bits), bits, nlist)
    ivf.cp.max_points_per_centroid = 32  # a seeded sample and a few rounds place the cells
    ivf.cp.niter = 10
    ivf.cp.seed = 0
    ivf.train(codes)
    return ivf


def configure(
    index: BinaryIndex | DistinctHashIndex, strategy: str, params: StrategyParams
) -> None:
    """Apply the search-time knobs (radius, nprobe, ef_search) to a built or loaded index."""
    inner = _inner(index.index)
    if strategy == "hash":
        inner.nflip = params.radius
    elif strategy == "ivf":
        inner.nprobe = max(1, min(params.nprobe, inner.nlist))
    elif strategy == "hnsw":
        inner.hnsw.efSearch = params.ef_search


def _inner(index):
    index = faiss.downcast_IndexBinary(index)
    if isinstance(index, faiss.IndexBinaryIDMap | faiss.IndexBinaryIDMap2):
        return faiss.downcast_IndexBinary(index.index)
    return index


# -- secondary index files ----------------------------------------------------------------
def secondary_paths(folder: Path, strategy: str) -> tuple[Path, Path]:
    return folder / f"codes.{strategy}.index", folder / f"codes.{strategy}.json"


def open_secondary(
    folder: str | Path,
    strategy: str,
    primary: BinaryIndex,
    params: StrategyParams,
    save: bool = True,
) -> BinaryIndex | DistinctHashIndex:
    """The `strategy` index over the primary index's codes, loaded from `folder`, or
    (re)built and saved there when missing or stale (kept in memory only without `save`)."""
    if strategy == "flat":
        return primary
    folder = Path(folder)
    ids, codes = primary.ids(), primary.codes()
    p = params.resolved(strategy, primary.bits, len(ids))
    want = {
        "strategy": strategy,
        "count": len(ids),
        "fingerprint": codes_fingerprint(ids, codes),
        "build": p.build_key(strategy),
        "layout": LAYOUT.get(strategy, 1),
    }
    index_path, info_path = secondary_paths(folder, strategy)
    have = _read_json(info_path)
    loader = DistinctHashIndex if strategy == "hash" else BinaryIndex
    if index_path.exists() and {k: have.get(k) for k in want} == want:
        try:
            index = loader.load(index_path)
            configure(index, strategy, p)
            return index
        except SemhashError as exc:  # a damaged secondary index is rebuilt from the codes
            log.warning("%s", exc)
    log.info("building the %s index over %d codes", strategy, len(ids))
    start = time.perf_counter()
    index = build(strategy, primary.bits, codes, ids, p)
    want.update(seconds=round(time.perf_counter() - start, 3), faiss=faiss.__version__)
    if not save:
        return index
    try:
        index.save(index_path)
        atomic_write(info_path, json.dumps(want, indent=2).encode())
    except OSError as exc:  # a read-only collection: use it from memory, build it next time
        log.warning("cannot save the %s index in %s (%s); using it unsaved", strategy, folder,
                    exc.strerror or exc)  # fmt: skip
    return index


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
