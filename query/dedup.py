"""Duplicate and near-duplicate items of a collection, grouped.

    1. exact duplicates: the same sha256 of the file bytes (stored in the metadata at
       indexing time; files indexed before the hash existed are hashed now, streaming)
    2. candidates: every item's neighbours within `radius` bits in the Hamming index
       (query/candidates.py: a k-nearest search, exact flat scan up to 100,000 items, IVF
       above; no all-pairs matrix)
    3. verification: each candidate pair's stored model inputs must be alike
       (the input kind's `pair_similarity`) at `threshold` or above; `verify="none"` trusts
       the codes
    4. groups: connected components of exact and verified pairs (union-find); in each the
       item to keep is picked by `keep` (first = lowest id, largest = most pixels then
       bytes, oldest = earliest modification time) and the others are its duplicates

With `against` (another collection, or items read from a folder) the question is which of
those outside items are already in this collection: each is attached to its most similar
verified match here, and the groups are the collection's items with the outside copies.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np

from semantic_hashing.indexer.store import Store
from semantic_hashing.query.candidates import (
    LOOKUPS,
    Pairs,
    check_radius,
    lookup_index,
    neighbours,
    self_pairs,
)
from semantic_hashing.query.dedup_groups import (
    DuplicateGroup,
    Items,
    Known,
    Member,
    exact_pairs,
    group_of,
    member,
    star_groups,
)
from semantic_hashing.retrieval.codes import hamming
from semantic_hashing.retrieval.errors import SemhashError
from semantic_hashing.retrieval.fsutil import file_sha256
from semantic_hashing.retrieval.kinds import Kind

log = logging.getLogger(__name__)

VERIFY = ("raw", "none")
KEEP = ("first", "largest", "oldest")
# Defaults measured on a near-duplicate set built from 10,000 CIFAR-10 *training* images
# (1,000 originals with 1-3 copies; `semhash bench-jobs --task dedup --calibrate`), which the
# benchmark (CIFAR-10 test images) never uses: over radius 4-20 and threshold 0.70-0.96 the
# pairwise F1 peaked at 0.933 (radius 14, threshold 0.94); radius 12 gave 0.931 for fewer
# candidates, radius 10 0.917, and threshold 0.90 at radius 12 only 0.835 (precision 0.74).
# The threshold is the input kind's (`Kind.dedup_threshold`); text's was not tuned (20
# Newsgroups' known duplicates are byte-identical).
RADIUS_PER_64_BITS = 12  # candidates within 12 of 64 bits (scaled with the code length)
MAX_CANDIDATES = 20


@dataclass
class DedupOptions:
    radius: int | None = None  # Hamming radius of candidates (None: scaled default)
    verify: str = "raw"  # raw: check stored inputs; none: trust the codes
    threshold: float | None = None  # verification similarity (None: the kind's default)
    keep: str = "first"
    max_candidates: int = MAX_CANDIDATES  # nearest candidates per item
    strategy: str | None = None  # candidates: flat, ivf or hash (None: by size)
    exact: bool = True  # group items with the same sha256

    def resolved(self, store: Store) -> DedupOptions:
        out = DedupOptions(**asdict(self))
        kind = store.input_kind
        if out.radius is None:
            out.radius = kind.candidate_radius or max(
                1, round(RADIUS_PER_64_BITS * store.bits / 64)
            )
        width = (f"dedup compares a {kind.name} collection by {kind.candidate_bits}-bit codes"
                 if kind.candidate_bits else "the code length")  # fmt: skip
        check_radius(out.radius, candidate_bits(store), width)
        if out.verify not in VERIFY:
            raise SemhashError(f"unknown --verify {out.verify!r}; choose raw or none.")
        if out.keep not in KEEP:
            raise SemhashError(f"unknown --keep {out.keep!r}; choose one of {', '.join(KEEP)}.")
        if out.threshold is None:
            out.threshold = store.input_kind.dedup_threshold
        if not -1.0 <= out.threshold <= 1.0:
            raise SemhashError(f"--threshold must be between -1 and 1, not {out.threshold}.")
        if out.max_candidates < 1:
            raise SemhashError("--max-candidates must be at least 1.")
        if out.strategy not in (None, *LOOKUPS):
            raise SemhashError(f"dedup looks candidates up by {' or '.join(LOOKUPS)}, "
                               f"not {out.strategy}.")  # fmt: skip
        return out


VERIFY_NEEDS = ("which --verify raw needs; run `semhash check --repair` and `semhash index` "
                "again, or use --verify none.")  # fmt: skip


def collection_items(store: Store, need_inputs: bool, needs: str = VERIFY_NEEDS) -> Items:
    """Every live item of `store` with its code (and stored input when `need_inputs`)."""
    ids, codes = store.index.ids(), store.index.codes()
    order = np.argsort(ids)
    ids, codes = np.asarray(ids[order], np.int64), np.asarray(codes[order], np.uint8)
    cols = store.meta.columns()
    keep = np.isin(ids, cols.ids)
    ids, codes = ids[keep], codes[keep]
    at = np.searchsorted(cols.ids, ids).tolist()
    paths = [cols.paths[p] for p in at]
    sha = [cols.sha256[p] or file_sha256(cols.paths[p]) for p in at]
    inputs = None
    if need_inputs and len(ids):
        missing = sorted(set(ids.tolist()) - set(store.raw.ids().tolist()))
        if missing:
            raise SemhashError(
                f"{store.path} keeps no stored input for {len(missing)} items (first: id "
                f"{missing[0]}), {needs}"
            )
        inputs = model_inputs(store, store.inputs(ids))
    return Items(ids, paths, codes, inputs, sha, [cols.labels[p] for p in at],
                 cols.size[at], cols.mtime[at], cols.pixels[at])  # fmt: skip


def candidate_bits(store: Store) -> int:
    """The width of the codes dedup looks near copies up by."""
    return store.input_kind.candidate_bits or store.bits


def dedup_codes(store: Store, inputs):
    """The codes dedup looks near copies up by: the kind's own candidate codes of these
    model inputs where it has them, else the model's codes."""
    kind = store.input_kind
    if kind.candidate_bits and len(inputs):
        return kind.candidate_codes(inputs)
    return store.encoder.encode(inputs)


def dedup_items(store: Store, need_inputs: bool) -> Items:
    """`collection_items` with the codes dedup compares them by (`dedup_codes`)."""
    kind = store.input_kind
    if not kind.candidate_bits:
        return collection_items(store, need_inputs)
    needs = (f"from which {kind.name} collections find near copies; run `semhash check "
             "--repair` and `semhash index` again.")  # fmt: skip
    items = collection_items(store, True, needs)
    if len(items.ids):
        items.codes = kind.candidate_codes(items.inputs)
    return items


def model_inputs(store: Store, rows):
    """Stored rows as model input: images (N, C, S, S) uint8, text counts as they are."""
    return rows if rows is None else store.input_kind.model_input(rows, store)


def find_duplicates(store: Store, against: Items | Store | None = None,
                    options: DedupOptions | None = None, stats: dict | None = None,
                    **overrides) -> list[DuplicateGroup]:  # fmt: skip
    """Groups of duplicate items in `store` (or of `against`'s items found in `store`).
    Keyword arguments override fields of `options` (radius=..., verify=..., ...); `stats`
    receives counts and timings."""
    opts = options or DedupOptions()
    unknown = set(overrides) - {f.name for f in fields(DedupOptions)}
    if unknown:
        raise TypeError(f"unknown dedup option {sorted(unknown)[0]!r}")
    opts = DedupOptions(**{**asdict(opts), **overrides}).resolved(store)
    stats = stats if stats is not None else {}
    t0 = time.perf_counter()
    items = dedup_items(store, opts.verify == "raw")
    if not len(items.ids):
        raise SemhashError(f"{store.path} holds no items to compare.")
    stats["items"] = len(items.ids)
    stats["read_s"] = time.perf_counter() - t0
    if against is not None:
        other = against if isinstance(against, Items) else other_items(store, against, opts)
        groups = _against(store, items, other, opts, stats)
    else:
        groups = _within(store, items, opts, stats)
    stats["groups"] = len(groups)
    stats["duplicates"] = sum(len(g.duplicates) for g in groups)
    stats["total_s"] = time.perf_counter() - t0
    return groups


def _verified(kind: Kind, opts: DedupOptions, inputs_a, inputs_b, pairs: Pairs, pa, pb):
    """(mask of pairs kept, their similarities or None)."""
    if opts.verify == "none":
        return np.ones(len(pairs), dtype=bool), None
    sim = kind.pair_similarity(inputs_a, inputs_b, pa, pb)
    return sim >= opts.threshold, sim


def _within(store: Store, items: Items, opts: DedupOptions, stats: dict):
    t0 = time.perf_counter()
    pairs = self_pairs(items.ids, items.codes, candidate_bits(store), opts.radius,
                       opts.max_candidates, opts.strategy)  # fmt: skip
    stats["candidate_pairs"] = len(pairs)
    stats["candidates_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    pa, pb = np.searchsorted(items.ids, pairs.a), np.searchsorted(items.ids, pairs.b)
    ok, sim = _verified(store.input_kind, opts, items.inputs, items.inputs, pairs, pa, pb)
    known = Known.of(len(items.ids), pa[ok], pb[ok], None if sim is None else sim[ok])
    stats["verified_pairs"] = int(ok.sum())
    edges: list[tuple] = [(pa[ok], pb[ok])]
    if opts.exact:
        ea, eb = exact_pairs(items.sha256)
        stats["exact_pairs"] = len(ea)
        edges.append((ea, eb))
    stats["verify_s"] = time.perf_counter() - t0
    return [group_of(store.input_kind, items, members, keep, known)
            for keep, members in star_groups(items, edges[0], edges[1:], opts.keep)]  # fmt: skip


# -- against another collection or a folder ------------------------------------------------
def other_items(store: Store, other: Store, opts: DedupOptions) -> Items:
    """The live items of `other`, as inputs of `store`'s model, encoded with it."""
    if other.kind != store.kind:
        raise SemhashError(f"{other.path} is a {other.kind} collection, {store.path} a "
                           f"{store.kind} one.")  # fmt: skip
    got = collection_items(other, need_inputs=True)
    inputs = _as_model_input(store, other, got.inputs)
    got.codes = dedup_codes(store, inputs) if len(got.ids) else got.codes
    got.inputs = inputs
    return got


def _as_model_input(store: Store, other: Store, inputs):
    return inputs if inputs is None else store.input_kind.inputs_from(inputs, other, store)


def folder_items(store: Store, folder: str | Path) -> tuple[Items, list[tuple[str, str]]]:
    """Files of `folder` read as `store`'s items were, encoded with its model."""
    from semantic_hashing.query.search import load_queries

    queries = load_queries(store, folder)
    n = len(queries.names)
    sha = [file_sha256(p) for p in queries.names]
    size = np.array([os.path.getsize(p) for p in queries.names])
    items = Items(np.full(n, -1, np.int64), queries.names, dedup_codes(store, queries.inputs),
                  queries.inputs, sha, [""] * n, size, np.zeros(n), np.zeros(n))  # fmt: skip
    return items, queries.skipped


def _against(store: Store, items: Items, other: Items, opts: DedupOptions, stats: dict):
    if not len(other.paths):
        return []
    t0 = time.perf_counter()
    index = lookup_index(candidate_bits(store), items.codes, np.arange(len(items.ids)),
                         opts.radius, opts.strategy)  # fmt: skip
    found = neighbours(index, other.codes, opts.radius, opts.max_candidates)
    stats["candidate_pairs"] = len(found)
    stats["candidates_s"] = time.perf_counter() - t0
    ok, sim = _verified(store.input_kind, opts, other.inputs, items.inputs, found, found.a,
                        found.b)  # fmt: skip
    score = np.where(ok, sim if sim is not None else -found.distance, -np.inf)
    best: dict[int, tuple[float, int, int]] = {}  # outside row -> (score, item pos, dist)
    for q, pos, d, s in zip(found.a, found.b, found.distance, score, strict=True):
        if s > -np.inf and (q not in best or s > best[q][0]):
            best[int(q)] = (float(s), int(pos), int(d))
    by_sha = {h: p for p, h in enumerate(items.sha256) if h}
    for q, digest in enumerate(other.sha256):
        if digest and digest in by_sha:
            best[q] = (
                1.0,
                by_sha[digest],
                int(hamming(other.codes[[q]], items.codes[[by_sha[digest]]])[0, 0]),
            )
    stats["verified_pairs"] = len(best)
    groups: dict[int, list[Member]] = {}
    for q, (s, pos, d) in sorted(best.items()):
        exact = bool(other.sha256[q]) and other.sha256[q] == items.sha256[pos]
        groups.setdefault(pos, []).append(
            member(other, q, d, None if sim is None and not exact else s, exact)
        )
    return [DuplicateGroup(member(items, pos, 0, None, True),
                           sorted(m, key=lambda x: (-(x.similarity or 0), x.distance)))
            for pos, m in sorted(groups.items())]  # fmt: skip
