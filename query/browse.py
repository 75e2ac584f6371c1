"""Browsing a collection, what the web page's views ask for: its items a page at a time
(sorted by id, path, date indexed or outlier score), outlier scores as percentiles of the
collection, duplicate groups regrouped at any similarity threshold, an item's code, its
whole document and its reconstruction as a picture.

The costly parts are computed once per state of the collection and kept in memory by
`Views` (one per opened store; a reopened store gets a fresh one): the sort orders, every
item's outlier score, and every candidate pair of the duplicate search with its
similarity, from which the groups at any threshold are made without comparing again.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np

from semantic_hashing.indexer.store import Store
from semantic_hashing.query.dedup import KEEP, DedupOptions, candidate_bits, dedup_items
from semantic_hashing.query.dedup_groups import (
    DuplicateGroup,
    Items,
    Known,
    exact_pairs,
    group_of,
    star_groups,
)
from semantic_hashing.retrieval.errors import SemhashError, UnknownItem

SORTS = ("id", "path", "added", "outlier")
MAX_PAGE = 500  # items (or groups) per page
MAX_DOCUMENT = 200_000  # characters of a document shown whole


@dataclass
class PairTable:
    """Every candidate pair of the duplicate search (positions in `items`), with its
    Hamming distance and the similarity of the stored inputs; and the exact pairs."""

    items: Items
    a: np.ndarray
    b: np.ndarray
    distance: np.ndarray
    similarity: np.ndarray
    exact: tuple[np.ndarray, np.ndarray]
    radius: int
    threshold: float  # the kind's default


@dataclass
class Pair:
    """Two items found alike: ids, paths, similarity of their inputs, Hamming distance."""

    a: int
    b: int
    path_a: str
    path_b: str
    similarity: float
    distance: int

    def to_dict(self) -> dict:
        return {"a": self.a, "b": self.b, "path_a": self.path_a, "path_b": self.path_b,
                "similarity": self.similarity, "distance": self.distance}  # fmt: skip


@dataclass
class DuplicateView:
    """A page of the duplicate groups at `threshold`, with what a reviewer needs: the
    totals, the least similar pairs still above the threshold, each member's sha256."""

    threshold: float
    default_threshold: float
    keep: str
    radius: int
    offset: int
    total_groups: int
    total_duplicates: int
    groups: list[DuplicateGroup]
    least_similar: list[Pair]
    sha256: dict[int, str] = field(default_factory=dict)

    def to_dict(self) -> dict:
        def member(m, role):
            return {**m.to_dict(), "role": role, "sha256": self.sha256.get(m.id, "")}

        return {
            "threshold": self.threshold, "default_threshold": self.default_threshold,
            "keep": self.keep, "radius": self.radius, "offset": self.offset,
            "total_groups": self.total_groups, "total_duplicates": self.total_duplicates,
            "groups": [{"keep": member(g.keep, "keep"),
                        "duplicates": [member(d, "duplicate") for d in g.duplicates]}
                       for g in self.groups],
            "least_similar": [p.to_dict() for p in self.least_similar],
        }  # fmt: skip


def check_page(offset: int, limit: int) -> None:
    if not isinstance(offset, int) or offset < 0:
        raise SemhashError(f"offset must be 0 or more, not {offset}.")
    if not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE:
        raise SemhashError(f"limit must be from 1 to {MAX_PAGE}, not {limit}.")


def check_threshold(threshold: float) -> float:
    if not isinstance(threshold, int | float) or not -1.0 <= float(threshold) <= 1.0:
        raise SemhashError(f"the threshold must be between -1 and 1, not {threshold}.")
    return round(float(threshold), 4)


def row_dict(row) -> dict:
    """A metadata row as the API shows it (the date as ISO text)."""
    out = {k: getattr(row, k) for k in row.__dataclass_fields__}
    out["added_at"] = row.added_at.isoformat() if row.added_at else None
    return out


class Views:
    """What browsing needs of one opened store, computed on first use and kept. Each of
    the costly parts has its own lock, which only keeps two first uses from both
    computing it: a page that needs none of them never waits for one being computed."""

    def __init__(self, store: Store):
        self.store = store
        self._lock = threading.RLock()
        self._scores_lock = threading.Lock()
        self._pairs_lock = threading.Lock()
        self._listing: tuple[np.ndarray, list[str], np.ndarray] | None = None
        self._orders: dict[tuple[str, bool], np.ndarray] = {}
        self._scores: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self._pairs: PairTable | None = None
        self._groups: OrderedDict = OrderedDict()  # (threshold, keep) -> groups
        self._least: dict = {}  # (threshold, n) -> (least similar pairs, duplicates)

    # -- items in pages -----------------------------------------------------------------
    def listing(self) -> tuple[np.ndarray, list[str], np.ndarray]:
        """(ids, paths, indexed-at as int64 microseconds) of every live item, by id."""
        with self._lock:
            if self._listing is None:
                ids, paths, added = self.store.meta.listing()
                when = np.array([np.datetime64(a, "us") if a else np.datetime64(0, "us")
                                 for a in added], dtype="datetime64[us]")  # fmt: skip
                self._listing = (np.asarray(ids, np.int64), paths, when.astype(np.int64))
            return self._listing

    def order(self, sort: str, descending: bool = False) -> np.ndarray:
        """Every live id in the order of `sort` (ties by id)."""
        if sort not in SORTS:
            raise SemhashError(f"unknown sort {sort!r}; choose one of {', '.join(SORTS)}.")
        key = (sort, bool(descending))
        if sort == "outlier":
            self.scores()  # computed first, outside the lock of the quick parts
        with self._lock:
            if key not in self._orders:
                self._orders[key] = self._make_order(sort, descending)
            return self._orders[key]

    def _make_order(self, sort: str, descending: bool) -> np.ndarray:
        if sort == "outlier":
            ids, scores, _ = self.scores()
            # worst first as `semhash outliers` ranks them (ties: lower id first)
            return ids[np.lexsort((ids, -scores if descending else scores))]
        ids, paths, added = self.listing()
        if sort == "id":
            order = np.arange(len(ids))
        elif sort == "path":
            order = np.array(sorted(range(len(ids)), key=paths.__getitem__), dtype=np.int64)
        else:
            order = np.lexsort((ids, added))
        return ids[order[::-1] if descending else order]

    def page(self, offset: int = 0, limit: int = 60, sort: str = "id",
             descending: bool = False) -> dict:  # fmt: skip
        """{total, offset, limit, sort, descending, items}: rows of one page, each with its
        outlier score and percentile once the scores are known."""
        check_page(offset, limit)
        order = self.order(sort, descending)
        ids = order[offset : offset + limit].tolist()
        rows = self.store.meta.get(ids)
        items = [row_dict(rows[i]) for i in ids if i in rows]
        if self._scores is not None:
            for item in items:
                item.update(self.rank(item["id"]))
        return {"total": len(order), "offset": offset, "limit": limit, "sort": sort,
                "descending": bool(descending), "items": items}  # fmt: skip

    # -- outlier scores -----------------------------------------------------------------
    def scores(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(ids ascending, each item's outlier score, the scores sorted)."""
        from semantic_hashing.query.outliers import outlier_scores

        with self._scores_lock:
            if self._scores is None:
                ids, scores = outlier_scores(self.store, "loss", show=False)
                self._scores = (ids, scores, np.sort(scores))
            return self._scores

    @property
    def scores_known(self) -> bool:
        return self._scores is not None

    def ready(self, what: str) -> bool:
        """Whether "outliers" (the scores) or "duplicates" (the pairs) is computed."""
        if what not in ("outliers", "duplicates"):
            raise SemhashError(f"unknown part {what!r}; choose outliers or duplicates.")
        return (self._scores if what == "outliers" else self._pairs) is not None

    def rank(self, item_id: int) -> dict:
        """{score, percentile}: the item's outlier score and the share of the collection
        (in %) that scores no higher."""
        ids, scores, ranked = self.scores()
        pos = int(np.searchsorted(ids, item_id))
        if pos >= len(ids) or ids[pos] != item_id:
            raise UnknownItem(f"id {item_id} is not in {self.store.path}.")
        score = float(scores[pos])
        below = int(np.searchsorted(ranked, score, side="right"))
        return {"score": round(score, 4), "percentile": round(100.0 * below / len(ranked), 2)}

    # -- duplicate groups ---------------------------------------------------------------
    def pairs(self) -> PairTable:
        """Every candidate pair at the default radius, with its similarity (once)."""
        from semantic_hashing.query.candidates import self_pairs

        with self._pairs_lock:
            if self._pairs is None:
                store = self.store
                opts = DedupOptions().resolved(store)
                items = dedup_items(store, need_inputs=True)
                if not len(items.ids):
                    raise SemhashError(f"{store.path} holds no items to compare.")
                found = self_pairs(items.ids, items.codes, candidate_bits(store), opts.radius,
                                   opts.max_candidates, opts.strategy)  # fmt: skip
                pa, pb = np.searchsorted(items.ids, found.a), np.searchsorted(items.ids, found.b)
                sim = store.input_kind.similarity(items.inputs, items.inputs, pa, pb)
                self._pairs = PairTable(items, pa, pb, np.asarray(found.distance),
                                        np.asarray(sim, np.float32), exact_pairs(items.sha256),
                                        opts.radius, float(opts.threshold))  # fmt: skip
            return self._pairs

    def groups(self, threshold: float, keep: str = "first") -> list[DuplicateGroup]:
        """The groups `semhash dedup --threshold T --keep K` finds, from the kept pairs."""
        threshold = check_threshold(threshold)
        if keep not in KEEP:
            raise SemhashError(f"unknown keep rule {keep!r}; choose one of {', '.join(KEEP)}.")
        key = (threshold, keep)
        t = self.pairs()
        with self._lock:
            if key in self._groups:
                self._groups.move_to_end(key)
                return self._groups[key]
            ok = t.similarity >= threshold
            found = star_groups(t.items, (t.a[ok], t.b[ok]), [t.exact], keep)
            known = Known.of(len(t.items.ids), t.a, t.b, t.similarity)
            groups = [group_of(self.store.input_kind, t.items, members, kept, known)
                      for kept, members in found]  # fmt: skip
            self._groups[key] = groups
            while len(self._groups) > 8:
                self._groups.popitem(last=False)
            return groups

    def least_similar(self, threshold: float, n: int = 12) -> list[Pair]:
        """The `n` least similar candidate pairs still at or above `threshold` (where a
        threshold set too low shows first), exact copies left out."""
        t = self.pairs()
        ok = np.flatnonzero(t.similarity >= check_threshold(threshold))
        same = {(int(a), int(b)) for a, b in zip(*t.exact, strict=True)}
        picked: list[Pair] = []
        for j in ok[np.argsort(t.similarity[ok], kind="stable")]:
            a, b = int(t.a[j]), int(t.b[j])
            if (a, b) in same or (b, a) in same:
                continue
            picked.append(Pair(int(t.items.ids[a]), int(t.items.ids[b]), t.items.paths[a],
                               t.items.paths[b], round(float(t.similarity[j]), 4),
                               int(t.distance[j])))  # fmt: skip
            if len(picked) == n:
                break
        return picked

    def duplicate_view(self, threshold: float | None = None, keep: str = "first", offset: int = 0,
                       limit: int = 20, least: int = 12) -> DuplicateView:  # fmt: skip
        check_page(offset, limit)
        t = self.pairs()
        threshold = t.threshold if threshold is None else check_threshold(threshold)
        groups = self.groups(threshold, keep)
        key = (threshold, least)
        with self._lock:
            if key not in self._least:
                self._least[key] = (self.least_similar(threshold, least),
                                    sum(len(g.duplicates) for g in groups))  # fmt: skip
                while len(self._least) > 8:
                    self._least.pop(next(iter(self._least)))
            pairs, dups = self._least[key]
        shown = groups[offset : offset + limit]
        at = np.searchsorted(t.items.ids, [m.id for g in shown for m in g.members])
        sha = {int(t.items.ids[p]): t.items.sha256[p] for p in at}
        return DuplicateView(threshold, t.threshold, keep, t.radius, offset, len(groups), dups,
                             shown, pairs, sha)  # fmt: skip


# -- one item -------------------------------------------------------------------------
def code_hex(store: Store, item_id: int) -> str:
    """The item's binary code as hex (the packed bytes, first bit highest)."""
    try:
        return bytes(np.asarray(store.index.codes_of([int(item_id)]))[0]).hex()
    except (KeyError, IndexError, RuntimeError) as exc:
        raise SemhashError(f"id {item_id} has no code in {store.path} ({exc}).") from None


def document(path: str) -> dict:
    """{title, text, truncated} of a text item's file, or {} when it cannot be read."""
    from semantic_hashing.retrieval import text

    try:
        doc = text.read_document(path)
    except text.UnreadableText:
        return {}
    body = doc.text
    return {"title": doc.title, "text": body[:MAX_DOCUMENT],
            "truncated": len(body) > MAX_DOCUMENT or doc.size > text.MAX_BYTES}  # fmt: skip


def reconstruction_strip(rec, size: int = 112) -> bytes:
    """A PNG of an image item's input, corrupted copy, reconstruction from the corrupted
    copy and reconstruction from the input, side by side."""
    from PIL import Image

    from semantic_hashing.query.jobs_render import COLUMNS, _image
    from semantic_hashing.query.thumbnails import png

    gap = 4
    strip = Image.new("RGB", (len(COLUMNS) * (size + gap) - gap, size), "white")
    for c, (attr, _) in enumerate(COLUMNS):
        strip.paste(_image(getattr(rec, attr), size), (c * (size + gap), 0))
    return png(strip)
