"""Answering through the public API: open a collection, search it, run its other jobs.

    import semantic_hashing as sh

    sh.index("photos/", "photos.semhash", bits=64)
    with sh.open("photos.semhash") as coll:
        result = coll.search("query.jpg", k=10)
        for hit in result.results:
            print(hit.id, hit.distance, hit.path)

A `Collection` loads its model and index once and answers any number of queries; the
command line and the web server go through the same calls. Results are plain dataclasses
(`QueryResult`, `Hit`) with `to_dict()`, the objects `semhash search --json` prints.
Searching imports torch on first use, so that commands that need no model never pay for it.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from semantic_hashing.query.options import SearchOptions
from semantic_hashing.query.results import Batch, Queries, QueryResult
from semantic_hashing.retrieval.errors import SemhashError, UnknownItem

SIDECAR = "collection.json"

if TYPE_CHECKING:
    from semantic_hashing.indexer.store import Store
    from semantic_hashing.retrieval.kinds import Kind

log = logging.getLogger(__name__)

__all__ = ["Collection", "open"]


def open(path: str | Path, *, device: str = "cpu", uri: str | None = None,  # noqa: A001
         save_derived: bool = True) -> Collection:  # fmt: skip
    """Open a collection for searching (read-only; `uri`: a moved Milvus server). Without
    `save_derived`, even the secondary index of a strategy is kept in memory, not saved."""
    return Collection(path, device=device, uri=uri, save_derived=save_derived)


class Collection:
    """A collection opened for searching: model, index and metadata loaded once.

    Opened read-only: nothing here writes to the collection. When `semhash index` updates
    it meanwhile, `refresh()` (called by the web server before each request) reopens it
    once the new state is committed; until then queries see the previous state."""

    def __init__(self, path: str | Path, device: str = "cpu", uri: str | None = None,
                 save_derived: bool = True):  # fmt: skip
        self.path = Path(path)
        self._device, self._uri, self._save_derived = device, uri, save_derived
        self._lock = threading.RLock()
        self._raw_cache: tuple | None = None
        self._views = None  # query.browse.Views of the current store
        self._counted: tuple | None = None  # (store, its metadata_rows and labels)
        self.store: Store = self._open_store()
        self._stamp = self._sidecar_stamp()

    def _open_store(self) -> Store:
        from semantic_hashing.indexer.store import Store

        store = Store.open(self.path, self._device, uri=self._uri)
        store.save_derived = self._save_derived
        return store

    # -- what it is ---------------------------------------------------------------------
    @property
    def kind(self) -> str:
        return self.store.kind

    @property
    def input_kind(self) -> Kind:
        """The collection's input kind (retrieval.kinds): what to ask instead of its name."""
        return self.store.input_kind

    @property
    def bits(self) -> int:
        return self.store.bits

    @property
    def name(self) -> str:
        return self.path.name.removesuffix(".semhash") or self.path.name

    def __len__(self) -> int:
        return len(self.store.index)

    def info(self) -> dict:
        """Sidecar, counts and model configuration (what `semhash info --json` prints).
        The metadata is counted by the database once per state of the collection (the
        page asks on every view), never read row by row."""
        with self._lock:
            if self._counted is None or self._counted[0] is not self.store:
                self._counted = (self.store, self.store.meta.label_counts())
            rows, labels = self._counted[1]
        return {
            **self.store.info,
            "items": len(self.store.index),
            "metadata_rows": rows,
            "labels": labels,
            "model": self.store.model_config,
        }

    def item(self, item_id: int) -> dict:
        """The metadata row of one live item."""
        with self._lock:  # refresh() may swap the store meanwhile
            row = self.store.meta.get([int(item_id)]).get(int(item_id))
        if row is None:
            raise UnknownItem(f"id {item_id} is not in {self.path}.")
        out = {k: getattr(row, k) for k in row.__dataclass_fields__}
        out["added_at"] = row.added_at.isoformat() if row.added_at else None
        return out

    # -- showing (the web page) ---------------------------------------------------------
    def thumbnail(self, item_id: int, size: int = 128) -> bytes:
        """A PNG of one item, at most `size` px a side: its indexed file while that is a
        readable image, else the stored model input it was encoded from; a text item as a
        card of its title and first lines."""
        from semantic_hashing.query import thumbnails

        if not thumbnails.MIN_SIZE <= size <= thumbnails.MAX_SIZE:
            raise SemhashError(f"size must be from {thumbnails.MIN_SIZE} to "
                               f"{thumbnails.MAX_SIZE} pixels.")  # fmt: skip
        row = self.item(item_id)
        img = self.input_kind.thumbnail(row, size, lambda: self._stored(item_id))
        return thumbnails.png(img)

    def preview(self, item_id: int) -> str:
        """A text item's first lines (or, its file gone, its most frequent words)."""
        row = self.item(item_id)
        if not self.input_kind.previews:
            raise SemhashError(f"{self.path} is an {self.kind} collection; its items have "
                               "thumbnails.")  # fmt: skip
        return self.input_kind.preview(row, lambda: self._stored(item_id))

    def _stored(self, item_id: int) -> tuple:
        """(the stored input rows of one item, the model), while no refresh swaps them."""
        with self._lock:
            return self.store.inputs([int(item_id)]), self.store.encoder

    # -- searching ----------------------------------------------------------------------
    def search(self, query=None, *, text: str | None = None, id: int | None = None,  # noqa: A002
               options: SearchOptions | None = None, **how) -> QueryResult:  # fmt: skip
        """Neighbours of one query: `query` (a file path — an image, or a document for a
        text collection —, the bytes of an image file, a numpy array HxW or HxWxC, or a PIL
        image), typed `text`, or a stored item `id`, answered as `options` say, or as the
        `SearchOptions` fields given as keywords (`how`): top `k` (default 10), or all
        within Hamming `radius` (at most k of them when k is given; k=None: all of them);
        `baseline="raw"` answers by raw pixels (L2) or TF-IDF cosine instead; `strategy`:
        flat, hash, ivf or hnsw (default by collection size) with `params` its knobs
        (StrategyParams); `asymmetric`: re-rank the Hamming shortlist by the distance of
        the unquantised query to each stored code (finer ranking; distances are then
        squared Euclidean in the code space)."""
        from semantic_hashing.query import search as _search

        given = [query is not None, text is not None, id is not None]
        if sum(given) != 1:
            raise SemhashError("give exactly one query: a file or image, a text or an id.")
        if id is not None:
            queries = _search.id_queries(self.store, [int(id)])
        elif text is not None:
            queries = _search.text_query(self.store, text)
        else:
            queries = self._query(query)
        return self._run(queries, options or SearchOptions.of(**how))[0]

    def search_batch(self, folder: str | Path | None = None, *, ids=None,
                     options: SearchOptions | None = None, **how) -> Batch:  # fmt: skip
        """One result per query file below `folder` (unreadable ones are skipped and listed),
        or per stored id in `ids`; `options` or `how` as for `search`."""
        from semantic_hashing.query import search as _search

        if (folder is None) == (ids is None):
            raise SemhashError("give a folder of queries or a list of ids.")
        if ids is not None:
            queries = _search.id_queries(self.store, [int(i) for i in ids])
        else:
            queries = _search.load_queries(self.store, folder)
        return Batch(self._run(queries, options or SearchOptions.of(**how)), queries.skipped)

    def evaluate(self, folder: str | Path, *, limit: int | None = None, seed: int = 0) -> dict:
        """P@10, P@100 and mAP@1000 of the codes and of the raw baseline on a labelled
        folder of queries (`<label>/<file>`; relevant = same label); `limit`: a seeded
        sample of that many queries."""
        from semantic_hashing.query.evaluate import evaluate_folder

        with self._lock:
            return evaluate_folder(self.store, folder, limit, seed)

    def _run(self, queries: Queries, options: SearchOptions) -> list[QueryResult]:
        from semantic_hashing.query import search as _search

        with self._lock:
            stored = self._raw_inputs() if options.baseline else None
            return _search.search(self.store, queries, options, stored)

    def _raw_inputs(self):
        """Every live item's stored input, kept for the next raw-baseline query."""
        if self._raw_cache is None:
            self._raw_cache = self.store.live_inputs()
        return self._raw_cache

    def _query(self, image) -> Queries:
        """A query file, or an image given in memory (the input kind writes it as a file
        that goes through the same reader as indexing: a file and its bytes get one code)."""
        from semantic_hashing.query import search as _search

        if isinstance(image, str | os.PathLike):
            path = Path(image)
            if path.is_dir():
                raise SemhashError(f"{path} is a folder; use search_batch for many queries.")
            return _search.load_queries(self.store, path)
        return _search.object_query(self.store, image)

    # -- the other jobs: duplicates, outliers, reconstructions ---------------------------
    def dedup(self, *, against=None, **options) -> list:
        """Groups of exact and near-duplicate items (`DuplicateGroup`), or with `against`
        (another Collection, or a folder of files) the outside items already in this one.
        Options: radius, verify ("raw" or "none"), threshold, keep, max_candidates,
        strategy (query/dedup.py `DedupOptions`)."""
        from semantic_hashing.query.dedup import find_duplicates, folder_items

        with self._lock:
            if isinstance(against, Collection):
                against = against.store
            elif against is not None:
                against = folder_items(self.store, against)[0]
            return find_duplicates(self.store, against, **options)

    def outliers(self, top: int = 20, *, metric: str = "loss") -> list:
        """The `top` items the collection's model reconstructs worst (`Outlier`)."""
        from semantic_hashing.query.outliers import find_outliers

        with self._lock:
            return find_outliers(self.store, top, metric)

    def score(self, item_id: int, *, metric: str = "loss") -> float:
        """The outlier score of one item: its reconstruction error under the model."""
        from semantic_hashing.query.reconstruct import item_score

        with self._lock:
            return item_score(self.store, int(item_id), metric)

    def reconstruct(self, ids=(), *, query: str | Path | None = None, seed: int = 0) -> list:
        """Input, corrupted copy and reconstructions (`Reconstruction`) of stored `ids` or
        of the files of `query`."""
        from semantic_hashing.query.jobs import reconstructions

        with self._lock:
            return reconstructions(self.store, [int(i) for i in ids], query, seed)[0]

    # -- browsing (the web page's views) -------------------------------------------------
    def _browse(self):
        """The browsing caches (query/browse.py) of the current store, used without the
        collection's lock: other queries are answered while a costly part is computed."""
        from semantic_hashing.query.browse import Views

        with self._lock:
            if self._views is None or self._views.store is not self.store:
                self._views = Views(self.store)
            return self._views

    def items_page(self, offset: int = 0, limit: int = 60, *, sort: str = "id",
                   descending: bool = False) -> dict:  # fmt: skip
        """`{total, offset, limit, sort, descending, items}`: `item()` rows sorted by "id",
        "path", "added" (date indexed) or "outlier" (scores computed once per state); once
        scores are known each row has its `score` and `percentile` (share scoring no higher)."""
        return self._browse().page(offset, limit, sort, descending)

    def outlier_rank(self, item_id: int) -> dict:
        """`{score, percentile}` of one item among all (every score is computed once)."""
        return self._browse().rank(int(item_id))

    def browse_ready(self, what: str) -> bool:
        """Whether "outliers" (every item's score) or "duplicates" (every candidate pair
        and its similarity) is computed for the current state: asking for it is quick."""
        return self._browse().ready(what)

    def duplicate_view(self, *, threshold: float | None = None, keep: str = "first",
                       offset: int = 0, limit: int = 20, least: int = 12):  # fmt: skip
        """A page of the groups at `threshold` (default: the kind's) by the `keep` rule, and
        the `least` similar pairs above it (`DuplicateView`); another threshold regroups."""
        return self._browse().duplicate_view(threshold, keep, offset, limit, least)

    def code(self, item_id: int) -> str:
        """The item's binary code as hex."""
        from semantic_hashing.query.browse import code_hex

        self.item(item_id)
        return code_hex(self.store, item_id)

    def document(self, item_id: int) -> dict:
        """A text item's whole body: `{title, text, truncated}` ({} when its file is gone)."""
        from semantic_hashing.query.browse import document

        row = self.item(item_id)
        if not self.input_kind.word_counts:
            raise SemhashError(f"{self.path} is an image collection: its items are not documents.")
        return document(row["path"])

    # -- lifetime -----------------------------------------------------------------------
    def _sidecar_stamp(self) -> tuple:
        try:
            st = (self.path / SIDECAR).stat()
        except OSError:
            return ()
        return (st.st_mtime_ns, st.st_size)

    def refresh(self) -> bool:
        """Reopen when `semhash index` changed the collection since it was opened; True if
        it did. A collection that cannot be reopened right now keeps the old state."""
        stamp = self._sidecar_stamp()
        if stamp == self._stamp:
            return False
        with self._lock:
            try:
                fresh = self._open_store()
            except SemhashError as exc:
                log.warning("keeping the previous state of %s: %s", self.path, exc)
                return False
            old, self.store, self._stamp, self._raw_cache = self.store, fresh, stamp, None
            old.close()
        log.info("reloaded %s (%d items)", self.path, len(self))
        return True

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Collection:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<sh.Collection {self.path} {self.kind} {self.bits} bits, {len(self)} items>"
