"""A collection on disk, one folder holding everything needed to search it, opened as a
`Store` (its code index, metadata store and raw store together; `query.api.Collection` is
the public handle over it).

    my.semhash/
      collection.json    sidecar: kind, bits, model fingerprint, counts, versions
      model.pt           the encoder (config, weights, thresholds, vocabulary)
      codes.index        FAISS IndexBinaryIDMap2, ids = metadata ids
      codes.<s>.index    secondary index of search strategy <s> (hash, ivf, hnsw) + .json
      metadata.sqlite    item rows and commit state (unless another SQLAlchemy URL is given;
                         collection.json then records that URL without its password)
      raw/NNNNNNNN.npz   model input of every item by id (raw baselines, search by id)
      index.log          what each run added, changed, removed and skipped
      .lock              held by the one process allowed to write

Writes go in chunks. Each chunk writes its raw inputs and the index file (temporary name,
fsync, rename), then commits its metadata rows in one transaction: that commit is the
point where the chunk counts. Opening for writing reconciles whatever a killed run left
behind, so a collection always opens, searches, and resumes without duplicate ids.
Opening also checks that model, index and sidecar belong together, so codes of two
different models are never mixed.
"""

from __future__ import annotations

import json
import logging
import os
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import faiss
import numpy as np

from semantic_hashing.indexer import repair
from semantic_hashing.indexer.backends import CodeIndex, CodeStore, code_store, store_of
from semantic_hashing.indexer.layout import FORMAT, INDEX, LOG, MODEL, RAW, SIDECAR, pin, pinned
from semantic_hashing.indexer.metadata import MetadataStore, safe_url
from semantic_hashing.indexer.opening import (
    DB_URL_ENV,
    acquire_lock,
    default_db_url,
    load_encoder,
    lost_hint,
    model_sha,
    new_folder,
    new_metadata,
    now,
    open_metadata,
    stored_where,
    torch_version,
)
from semantic_hashing.indexer.raw_store import RawStore
from semantic_hashing.indexer.strategies import (
    StrategyParams,
    default_strategy,
    open_secondary,
    strategy_named,
)
from semantic_hashing.retrieval import __version__
from semantic_hashing.retrieval.errors import IndexLost, SemhashError
from semantic_hashing.retrieval.fsutil import atomic_write
from semantic_hashing.retrieval.kinds import Kind, get_kind

if TYPE_CHECKING:
    from semantic_hashing.retrieval.codes import HashEncoder

log = logging.getLogger(__name__)


@contextmanager
def _named(files: Path, path: Path):
    """A sentence raised while reading through the pinned folder `files` names the
    collection as the user gave it (`path`), not /proc/self/fd/N."""
    try:
        yield
    except SemhashError as exc:
        if files != path:
            exc.args = (str(exc).replace(str(files), str(path)), *exc.args[1:])
        raise


@dataclass
class Chunk:
    """Items to write together: new ones and changed ones (re-encoded under their id)."""

    ids: np.ndarray
    codes: np.ndarray
    inputs: object  # uint8 pixels or sparse counts, one row per id
    new_rows: list[dict] = field(default_factory=list)
    changed_rows: list[dict] = field(default_factory=list)


@dataclass
class Store:
    """A collection folder opened for searching, or for writing with its writer's lock."""

    path: Path
    info: dict
    loaded_encoder: HashEncoder | None  # None until `encoder` is first needed
    index: CodeIndex
    meta: MetadataStore
    raw: RawStore
    writable: bool = False
    _lock: int | None = field(default=None, repr=False)
    repairs: dict = field(default_factory=dict)  # what opening for writing fixed
    # False (semhash serve): a secondary index is never written here, only kept in memory
    save_derived: bool = True
    _derived: dict = field(default_factory=dict, repr=False)
    device: str = "cpu"  # where the model runs once it is loaded
    # a reader's descriptor of the folder it opened: what it reads later (model, stored
    # inputs) comes from that state even when a rebuild swaps a new one in meanwhile
    _dirfd: int | None = field(default=None, repr=False)

    @property
    def files(self) -> Path:
        """Where this store reads its files: the folder it opened, even once renamed."""
        return pinned(self._dirfd) if self._dirfd is not None else self.path

    @property
    def encoder(self) -> HashEncoder:
        """The collection's model, loaded on first use and checked against the codes:
        commands that need no model (info, check, remove) never import torch."""
        if self.loaded_encoder is None:
            with _named(self.files, self.path):
                self.loaded_encoder = load_encoder(self.path, self.info, self.device, self.files)
        return self.loaded_encoder

    @encoder.setter
    def encoder(self, encoder: HashEncoder) -> None:
        self.loaded_encoder = encoder

    def verify_model(self) -> None:
        """Refuse a model file that is not the one the codes were made with: cheaply by its
        sha256 when the sidecar records it, else by loading it."""
        recorded = self.info.get("model_sha256")
        if self.loaded_encoder is None and not (recorded and recorded == model_sha(self.files)):
            self.encoder  # noqa: B018 (loads and checks)

    @property
    def model_config(self) -> dict:
        """The model's configuration, from the sidecar when it records it."""
        if self.loaded_encoder is None and "model" in self.info:
            return self.info["model"]
        return self.encoder.config.to_dict()

    @property
    def kind(self) -> str:
        return self.info["kind"]

    @property
    def input_kind(self) -> Kind:
        """The collection's input kind (retrieval.kinds): what to ask instead of its name."""
        return get_kind(self.kind)

    @property
    def code_store(self) -> CodeStore:
        """Where the codes live (the sidecar's backend entry)."""
        return store_of(self.info.get("backend"))

    @property
    def backend(self) -> str:
        return self.code_store.name

    @property
    def bits(self) -> int:
        return self.info["bits"]

    # -- create / open ------------------------------------------------------------------
    @classmethod
    def create(cls, path: str | Path, encoder: HashEncoder, db_url: str | None = None,
               backend: str | None = None, uri: str | None = None):  # fmt: skip
        """A new collection; metadata in `db_url` (else $SEMHASH_DB_URL, else SQLite inside),
        which must be an empty database; codes in the code store `backend` (None: the
        default one)."""
        path = new_folder(Path(path))
        db_url = db_url or os.environ.get(DB_URL_ENV) or None
        lock = acquire_lock(path)
        try:
            meta = new_metadata(db_url or default_db_url(path))
            codes = code_store(backend)
            where = codes.entry(path, uri)
        except SemhashError:
            os.close(lock)
            raise
        info = {
            "format": FORMAT, "kind": encoder.config.kind, "bits": encoder.bits,
            "model_type": encoder.config.model_type, "model_fingerprint": encoder.fingerprint(),
            "db_url": safe_url(db_url) if db_url else "", "backend": where, "count": 0,
            "created_at": now(),
        }  # fmt: skip
        encoder.save(path / MODEL)
        index = codes.create(encoder.bits, codes.resolved(where, path))
        coll = cls(path, info, encoder, index, meta, RawStore(path / RAW), True, lock)
        index.save(path / INDEX)
        coll.save_info()  # the sidecar last: until it exists this is no collection
        return coll

    @classmethod
    def open(cls, path: str | Path, device: str = "cpu", write: bool = False,
             db_url: str | None = None, uri: str | None = None):  # fmt: skip
        """Open for searching, or with `write=True` take the writer's lock and reconcile.
        `db_url` (--db) may repeat the collection's database URL, with its password; `uri`
        overrides the address of a collection kept in Milvus (a moved server)."""
        path = Path(path)
        if not (path / SIDECAR).is_file() and not repair.holds_data(path):
            raise SemhashError(f"{path} is not a semhash collection (no {SIDECAR}).")
        lock = acquire_lock(path) if write else None
        dirfd = None if write else pin(path)
        try:
            with _named(pinned(dirfd) if dirfd is not None else path, path):
                coll = cls._open(path, device, write, db_url, uri, lock, dirfd)
        except BaseException:
            if lock is not None:
                os.close(lock)
            if dirfd is not None:
                os.close(dirfd)
            raise
        return coll

    @classmethod
    def _open(cls, path: Path, device, write: bool, db_url: str | None, uri: str | None,
              lock: int | None, dirfd: int | None = None):  # fmt: skip
        files = pinned(dirfd) if dirfd is not None else path
        info, rebuilt = repair.read_sidecar(files, recover=write)
        if info.get("format") != FORMAT:
            raise SemhashError(f"{path} has collection format {info.get('format')}; "
                               f"this semhash reads format {FORMAT}: index it again.")  # fmt: skip
        meta = open_metadata(path, info.get("db_url") or "", db_url, info)
        try:
            at = files if store_of(info.get("backend")).name == "faiss" else path
            index, lost = cls._open_index(at, info, write, uri), None
        except IndexLost as exc:
            if not write or uri:
                meta.close()
                raise SemhashError(f"{exc} {lost_hint(path, info, uri)}") from None
            index, lost = cls._new_index(path, info), str(exc)
        if index.bits != info["bits"]:
            meta.close()
            raise SemhashError(
                f"the index in {path} holds {index.bits}-bit codes, not {info['bits']}."
            )
        coll = cls(path, info, None, index, meta, RawStore(files / RAW), write, lock)
        coll.device, coll._dirfd = str(device), dirfd
        if write:  # the model is checked before anything changes; readers load it on use
            try:
                coll.verify_model()
            except SemhashError:
                meta.close()
                raise
            coll.repairs = {"sidecar rebuilt": int(rebuilt)} if rebuilt else {}
            if lost:
                coll.repairs["codes rebuilt from stored inputs"] = coll._rebuild_codes(lost)
            coll.repairs.update(coll.reconcile())
        return coll

    @staticmethod
    def _open_index(path: Path, info: dict, write: bool, uri: str | None) -> CodeIndex:
        codes, entry = stored_where(path, info)
        return codes.open(info["bits"], entry, path, uri, write)

    @staticmethod
    def _new_index(path: Path, info: dict) -> CodeIndex:
        """An empty index in place of a lost one (a damaged file or folder set aside)."""
        codes, entry = stored_where(path, info)
        return codes.recreate(info["bits"], entry, path)

    def _rebuild_codes(self, why: str) -> int:
        """Encode every live item again from its stored input into the new, empty index."""
        log.warning("%s; rebuilding the codes of %s from the stored inputs", why, self.path)
        n, unstored = repair.restore_codes(self, self.meta.labels())
        if unstored:
            self.meta.invalidate(unstored)
        self.index.save(self.path / INDEX)
        self.log_event(f"codes rebuilt from stored inputs: {n} ({why})")
        return n

    def check_model(self, encoder: HashEncoder) -> None:
        """Refuse an encoder whose codes would not be comparable with the stored ones."""
        if encoder.bits != self.bits:
            raise SemhashError(
                f"the model makes {encoder.bits}-bit codes "
                f"but {self.path} holds {self.bits}-bit codes."
            )
        if encoder.fingerprint() != self.info["model_fingerprint"]:
            raise SemhashError(
                f"{self.path} was built with another model; use its own model, "
                "or --rebuild to re-encode everything with the new one."
            )

    # -- consistency --------------------------------------------------------------------
    def problems(self) -> dict[str, list[int]]:
        """Differences between the index, the metadata and the raw store (repair.problems)."""
        return repair.problems(self)

    def reconcile(self) -> dict[str, int]:
        """Undo what a killed writer left half done (repair.reconcile; needs the lock)."""
        return repair.reconcile(self)

    # -- writing ------------------------------------------------------------------------
    def write(self, chunk: Chunk) -> None:
        """Raw inputs, then the index file, then the metadata commit (the commit point)."""
        assert self.writable, "open the collection with write=True"
        seq = self.raw.append(chunk.ids, chunk.inputs)
        changed = np.array([r["id"] for r in chunk.changed_rows], dtype=np.int64)
        if len(changed):
            self.index.remove(changed)
        self.index.add(chunk.codes, chunk.ids)
        self.index.save(self.path / INDEX)
        self.meta.commit(chunk.new_rows, chunk.changed_rows, {"raw_seq": seq})
        self.save_info()  # the count of committed items: evidence if the metadata is lost

    def remove(self, ids) -> int:
        """Soft-delete rows, then drop their codes from the index."""
        assert self.writable, "open the collection with write=True"
        ids = np.asarray(sorted(set(int(i) for i in ids)), dtype=np.int64)
        n = self.meta.soft_delete(ids)
        self.index.remove(ids)
        self.index.save(self.path / INDEX)
        return n

    def compact(self) -> None:
        """Rewrite the raw store with live items only."""
        live = np.array(sorted(self.meta.labels()), dtype=np.int64)
        seq = self.raw.compact(live)
        self.meta.commit(state={"raw_seq": seq})
        self.raw.truncate_before(seq)

    def replace_model(self, encoder: HashEncoder) -> None:
        """Start over with another model: empty index, every live row to encode again."""
        assert self.writable, "open the collection with write=True"
        self.index = self.code_store.emptied(self.index, encoder.bits, self.path)
        self.encoder = encoder
        self.index.save(self.path / INDEX)
        self.meta.invalidate(sorted(self.meta.labels()))
        encoder.save(self.path / MODEL)
        self.info.update(bits=encoder.bits, model_type=encoder.config.model_type,
                         model_fingerprint=encoder.fingerprint())  # fmt: skip
        self.save_info()

    # -- reading ------------------------------------------------------------------------
    def search_index(self, strategy: str | None = None, params: StrategyParams | None = None):
        """The index that answers queries with `strategy` (flat, hash, ivf, hnsw; default by
        collection size). Secondary indexes live beside the primary one as
        `codes.<strategy>.index` and are rebuilt when the codes changed."""
        if not self.code_store.strategies:
            if strategy is not None and strategy_named(strategy).secondary:
                raise SemhashError(f"{self.path} keeps its codes in {self.backend}; --strategy "
                                   "applies to collections kept in FAISS.")  # fmt: skip
            return self.index
        strategy = strategy or default_strategy(len(self.index))
        if not strategy_named(strategy).secondary:
            return self.index
        params = params or StrategyParams()
        if self.save_derived:
            return open_secondary(self.files, strategy, self.index, params)
        key = (strategy, repr(params))
        if key not in self._derived:
            self._derived[key] = open_secondary(self.files, strategy, self.index, params, False)
        return self._derived[key]

    def model_inputs(self, ids) -> object:
        """Stored inputs of `ids` shaped for the encoder (images as (N, C, H, W))."""
        return self.input_kind.model_input(self.inputs(ids), self)

    def inputs(self, ids) -> object:
        """Stored model inputs for `ids` (rows in the same order)."""
        try:
            return self.raw.get(np.asarray(ids, dtype=np.int64))
        except KeyError as exc:
            raise SemhashError(f"{self.path}: {exc.args[0]}; `semhash check` says why, "
                               "`semhash check --repair` then `semhash index` mend "
                               "it.") from None  # fmt: skip

    def live_inputs(self) -> tuple[np.ndarray, object]:
        """(ids, inputs) of every live item, ids ascending."""
        ids = np.array(sorted(self.meta.labels()), dtype=np.int64)
        return ids, self.inputs(ids) if len(ids) else None

    def save_info(self) -> None:
        self.info["count"] = self.meta.count()
        self.info["updated_at"] = now()
        self.info["versions"] = {"semhash": __version__, "faiss": faiss.__version__,
                                 "torch": torch_version()}  # fmt: skip
        if self.loaded_encoder is not None:  # what `info` and `check` read without torch
            self.info["model"] = self.loaded_encoder.config.to_dict()
            self.info["model_sha256"] = model_sha(self.path)
        atomic_write(self.path / SIDECAR, json.dumps(self.info, indent=2).encode())

    def log_event(self, text: str) -> None:
        with open(self.path / LOG, "a", encoding="utf-8", errors="backslashreplace") as fh:
            fh.write(f"{now()} {text}\n")

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self.writable:
            self.save_info()
        self.meta.close()
        self.index.close()
        if self._lock is not None:
            os.close(self._lock)  # releases the flock
            self._lock = None
        if self._dirfd is not None:
            os.close(self._dirfd)
            self._dirfd = None
