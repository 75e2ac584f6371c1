"""Search strategies over a collection's codes: exact flat scan, hash lookup, IVF, HNSW.

    flat   IndexBinaryIDMap2 over IndexBinaryFlat: every code is compared (the primary
           index, `codes.index`).
    hash   multi-index hashing (FAISS IndexBinaryMultiHash) over the distinct codes
           (indexer/hash_index.py): the code is cut into `nhash` address substrings of
           `hash_bits` bits, each the key of one hash table. A query looks up its own
           addresses and every address within `nflip` flipped bits of them (--hash-radius),
           re-ranks the union of those buckets by the Hamming distance of the full code, and
           expands the nearest codes to their items. By the pigeonhole principle every item within
           nhash * (nflip + 1) - 1 bits of the query (on the hashed bits) is found,
           whatever the collection size.
    ivf    IndexBinaryIVF: `nlist` Hamming k-means cells, `nprobe` of them scanned.
    hnsw   IndexBinaryHNSW: a navigable small-world graph of degree `hnsw_m`, beam
           `ef_search`.

A secondary index is kept beside the primary one as `codes.<strategy>.index` with a JSON
sidecar recording the count and a fingerprint of the primary ids and codes, plus the build
parameters; it is rebuilt when either differs. Every strategy returns FAISS's (D, I) with the
collection's own int64 ids, each row sorted by (distance, id), distances exact Hamming.

Each strategy is a `Strategy` registered in `STRATEGIES` (the --strategy choices): it owns
its build, its search-time knobs, the resolution of its automatic parameters and its file
layout. Adding one is a class here with `@register`.
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
from semantic_hashing.retrieval.errors import OptionError, SemhashError
from semantic_hashing.retrieval.fsutil import atomic_write
from semantic_hashing.retrieval.params import MAX_BITS

log = logging.getLogger(__name__)

FLAT_BELOW = 2_000_000  # default strategy: an exact scan below this many items, ivf above
MAX_PROBES = 100_000  # hash buckets looked up per query
# (field, option, lowest, highest): "bits" is the code length; 0 means automatic where allowed
KNOBS = (
    ("nhash", "--nhash", 0, "bits"),
    ("hash_bits", "--hash-bits", 0, 64),
    ("nflip", "--hash-radius", 0, 64),
    ("nlist", "--nlist", 0, 1 << 20),
    ("nprobe", "--nprobe", 1, 1 << 20),
    ("hnsw_m", "--hnsw-m", 2, 256),
    ("ef_construction", "ef_construction", 1, 1 << 16),
    ("ef_search", "--ef-search", 1, 1 << 16),
)


@dataclass
class StrategyParams:
    """Build parameters (changing one rebuilds the index) and search-time knobs."""

    nhash: int = 0  # hash: tables (0: as many hash_bits-bit substrings as the code holds)
    hash_bits: int = 0  # hash: address bits per table (0: about log2 N, 8..32)
    nflip: int = 1  # hash: address bits flipped per table at query time (--hash-radius)
    nlist: int = 0  # ivf: cells (0: about 4 sqrt N, at most N / 39 and 4096)
    nprobe: int = 16  # ivf: cells scanned per query
    hnsw_m: int = 16  # hnsw: graph degree (FAISS's M)
    ef_construction: int = 40  # hnsw: beam width while building
    ef_search: int = 128  # hnsw: beam width while searching (at least k)

    def validate(self, bits: int) -> None:
        """Refuse knobs outside their range before FAISS sees them (a negative graph degree
        grows without bound, more flipped bits than address bits never ends)."""
        for name, flag, low, high in KNOBS:
            value, top = getattr(self, name), bits if high == "bits" else high
            if not isinstance(value, int) or not low <= value <= top:
                widest = MAX_BITS if high == "bits" else high  # the longest code's range
                anywhere = not isinstance(value, int) or not low <= value <= widest
                raise OptionError(name, f"{flag} must be an integer from {low} to {top}, "
                                  f"not {value}.", anywhere)  # fmt: skip

    def resolved(self, strategy: str, bits: int, n: int) -> StrategyParams:
        """A copy with the automatic (0) build parameters filled in for `n` items, checked
        against the code length and the collection size."""
        self.validate(bits)
        return strategy_named(strategy).resolve(StrategyParams(**asdict(self)), bits, n)

    def build_key(self, strategy: str) -> dict:
        """The build parameters of `strategy`: its secondary index is rebuilt when they change."""
        return {name: getattr(self, name) for name in strategy_named(strategy).build_fields}


class Strategy:
    """A search strategy: how its index is built over the codes, which knobs it takes at
    search time, how its automatic parameters are resolved, and where its index is kept."""

    name = ""
    build_fields: tuple[str, ...] = ()  # StrategyParams fields whose change rebuilds it
    knobs: tuple[str, ...] = ()  # StrategyParams fields applied at search time
    secondary = True  # kept as an index of its own beside the primary one (flat: no)
    ranges = True  # answers range searches (--radius)
    layout = 1  # version of its secondary index file (an older one is rebuilt)

    def resolve(self, p: StrategyParams, bits: int, n: int) -> StrategyParams:
        """`p` (a copy) with automatic build parameters filled in for `n` items, checked."""
        return p

    def build(self, bits: int, codes: np.ndarray, ids: np.ndarray, p: StrategyParams):
        """A new index over contiguous `codes` and `ids` with resolved parameters `p`."""
        raise NotImplementedError

    def configure(self, index, p: StrategyParams) -> None:
        """Apply the search-time knobs of `p` to a built or loaded index."""

    def paths(self, folder: Path) -> tuple[Path, Path]:
        """(index file, JSON sidecar) of its secondary index in a collection folder."""
        return folder / f"codes.{self.name}.index", folder / f"codes.{self.name}.json"

    def load(self, path: Path):
        """Its index as saved at `path` (SemhashError or IndexLost when unreadable)."""
        return BinaryIndex.load(path)


STRATEGIES: dict[str, Strategy] = {}


def register(cls: type[Strategy]) -> type[Strategy]:
    """Add a strategy to `STRATEGIES` under its name (the --strategy choices)."""
    STRATEGIES[cls.name] = cls()
    return cls


def strategy_named(name: str) -> Strategy:
    strategy = STRATEGIES.get(name)
    if strategy is None:
        raise SemhashError(f"unknown strategy {name!r}; choose one of {', '.join(STRATEGIES)}.")
    return strategy


@register
class Flat(Strategy):
    """Every code compared: the collection's primary index itself."""

    name = "flat"
    secondary = False

    def build(self, bits, codes, ids, p):
        return _filled(bits, faiss.IndexBinaryIDMap2(faiss.IndexBinaryFlat(bits)), codes, ids)


@register
class HashLookup(Strategy):
    """Multi-index hashing over the distinct codes (indexer/hash_index.py)."""

    name = "hash"
    build_fields = ("nhash", "hash_bits")
    knobs = ("nflip",)
    layout = 2  # 2: distinct codes

    def resolve(self, p, bits, n):
        p.hash_bits = p.hash_bits or min(32, max(8, round(math.log2(max(n, 2)))), bits)
        p.nhash = p.nhash or max(1, bits // p.hash_bits)
        if p.nhash * p.hash_bits > bits:
            raise SemhashError(
                f"{p.nhash} tables of {p.hash_bits} bits do not fit in {bits}-bit codes."
            )
        if p.nflip > p.hash_bits:
            raise SemhashError(f"--hash-radius {p.nflip} flips more bits than a table's "
                               f"address has ({p.hash_bits}).")  # fmt: skip
        probes = p.nhash * sum(math.comb(p.hash_bits, r) for r in range(p.nflip + 1))
        if probes > MAX_PROBES:
            raise SemhashError(
                f"--hash-radius {p.nflip} with {p.nhash} tables of {p.hash_bits} bits probes "
                f"{probes:,} buckets per query (at most {MAX_PROBES:,}); lower it."
            )
        return p

    def build(self, bits, codes, ids, p):
        return DistinctHashIndex.build(bits, codes, ids, p.nhash, p.hash_bits)

    def configure(self, index, p):
        _inner(index.index).nflip = p.nflip

    def load(self, path):
        return DistinctHashIndex.load(path)


@register
class IVF(Strategy):
    """`nlist` Hamming k-means cells, `nprobe` of them scanned per query."""

    name = "ivf"
    build_fields = ("nlist",)
    knobs = ("nprobe",)

    def resolve(self, p, bits, n):
        p.nlist = p.nlist or int(min(4096, max(1, n // 39), max(1, 4 * math.sqrt(n))))
        if n and p.nlist > n:
            raise SemhashError(f"--nlist {p.nlist} is more cells than the {n} items.")
        return p

    def build(self, bits, codes, ids, p):
        if len(codes) < p.nlist:
            raise SemhashError(
                f"ivf needs at least nlist = {p.nlist} items; the index has {len(codes)}."
            )
        ivf = faiss.IndexBinaryIVF(faiss.IndexBinaryFlat(bits), bits, p.nlist)
        ivf.cp.max_points_per_centroid = 32  # a seeded sample and a few rounds place the cells
        ivf.cp.niter = 10
        ivf.cp.seed = 0
        ivf.train(codes)
        return _filled(bits, ivf, codes, ids)

    def configure(self, index, p):
        inner = _inner(index.index)
        inner.nprobe = max(1, min(p.nprobe, inner.nlist))


@register
class HNSW(Strategy):
    """A navigable small-world graph of degree `hnsw_m`, searched with beam `ef_search`."""

    name = "hnsw"
    build_fields = ("hnsw_m", "ef_construction")
    knobs = ("ef_search",)
    ranges = False

    def build(self, bits, codes, ids, p):
        hnsw = faiss.IndexBinaryHNSW(bits, p.hnsw_m)
        hnsw.hnsw.efConstruction = p.ef_construction
        return _filled(bits, faiss.IndexBinaryIDMap(hnsw), codes, ids)

    def configure(self, index, p):
        _inner(index.index).hnsw.efSearch = p.ef_search


def _filled(bits: int, index, codes: np.ndarray, ids: np.ndarray) -> BinaryIndex:
    if len(codes):
        index.add_with_ids(codes, ids)
    return BinaryIndex(bits, index)


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
    chosen = strategy_named(strategy)
    codes = np.ascontiguousarray(codes, dtype=np.uint8)
    ids = np.ascontiguousarray(ids, dtype=np.int64)
    p = params.resolved(strategy, bits, len(codes))
    index = chosen.build(bits, codes, ids, p)
    chosen.configure(index, p)
    return index


def configure(
    index: BinaryIndex | DistinctHashIndex, strategy: str, params: StrategyParams
) -> None:
    """Apply the search-time knobs (nflip, nprobe, ef_search) to a built or loaded index."""
    strategy_named(strategy).configure(index, params)


def _inner(index):
    index = faiss.downcast_IndexBinary(index)
    if isinstance(index, faiss.IndexBinaryIDMap | faiss.IndexBinaryIDMap2):
        return faiss.downcast_IndexBinary(index.index)
    return index


# -- secondary index files ----------------------------------------------------------------
def secondary_paths(folder: Path, strategy: str) -> tuple[Path, Path]:
    return strategy_named(strategy).paths(Path(folder))


def open_secondary(
    folder: str | Path,
    strategy: str,
    primary: BinaryIndex,
    params: StrategyParams,
    save: bool = True,
) -> BinaryIndex | DistinctHashIndex:
    """The `strategy` index over the primary index's codes, loaded from `folder`, or
    (re)built and saved there when missing or stale (kept in memory only without `save`)."""
    chosen = strategy_named(strategy)
    if not chosen.secondary:
        return primary
    folder = Path(folder)
    ids, codes = primary.ids(), primary.codes()
    p = params.resolved(strategy, primary.bits, len(ids))
    want = {
        "strategy": strategy,
        "count": len(ids),
        "fingerprint": codes_fingerprint(ids, codes),
        "build": p.build_key(strategy),
        "layout": chosen.layout,
    }
    index_path, info_path = chosen.paths(folder)
    have = _read_json(info_path)
    if index_path.exists() and {k: have.get(k) for k in want} == want:
        try:
            index = chosen.load(index_path)
            chosen.configure(index, p)
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
