"""A collection on disk: one folder holding everything needed to search it.

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

import datetime as dt
import fcntl
import hashlib
import importlib.metadata
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import faiss
import numpy as np
from sqlalchemy import make_url

from semantic_hashing.indexer import repair
from semantic_hashing.indexer.backends import (
    CodeIndex,
    backend_info,
    new_code_index,
    open_code_index,
    resolved_backend,
)
from semantic_hashing.indexer.layout import (
    DB,
    FORMAT,
    INDEX,
    LITE_FILE,
    LOCK,
    LOG,
    MODEL,
    RAW,
    SIDECAR,
)
from semantic_hashing.indexer.metadata import MetadataStore, safe_url
from semantic_hashing.indexer.raw_store import RawStore
from semantic_hashing.indexer.strategies import StrategyParams, default_strategy, open_secondary
from semantic_hashing.retrieval import __version__
from semantic_hashing.retrieval.errors import IndexLost, SemhashError
from semantic_hashing.retrieval.fsutil import atomic_write
from semantic_hashing.retrieval.kinds import Kind, get_kind

if TYPE_CHECKING:
    from semantic_hashing.retrieval.codes import HashEncoder

log = logging.getLogger(__name__)

__all__ = ["DB", "FORMAT", "INDEX", "LOCK", "LOG", "MODEL", "RAW", "SIDECAR", "Chunk",
           "Collection", "new_metadata", "open_metadata"]  # fmt: skip


DB_URL_ENV = "SEMHASH_DB_URL"  # the full metadata URL, password included


def default_db_url(path: Path) -> str:
    return f"sqlite:///{(path / DB).resolve()}"


def new_metadata(url: str) -> MetadataStore:
    """The store of a new collection: refused unless the database is empty."""
    meta = MetadataStore(url)
    if not meta.is_empty():
        meta.close()
        raise SemhashError(
            f"the metadata database {safe_url(url)} already holds items; give each collection "
            "an empty database of its own."
        )
    return meta


def open_metadata(path: Path, stored: str, given: str | None = None,
                  info: dict | None = None) -> MetadataStore:  # fmt: skip
    """The store of an existing collection. collection.json keeps its database URL without
    the password (`stored`, "" for the SQLite file inside); the full URL comes from `given`
    (--db) or $SEMHASH_DB_URL when they name that same database, else the driver finds the
    password on its own (PostgreSQL: PGPASSWORD, ~/.pgpass)."""
    own = stored or default_db_url(path)
    env = os.environ.get(DB_URL_ENV)
    if given and safe_url(given) != safe_url(own):
        where = safe_url(stored) if stored else "its own SQLite file"
        raise SemhashError(f"{path} keeps its metadata in {where}, not in {safe_url(given)}.")
    url = given or (env if stored and env and safe_url(env) == safe_url(stored) else own)
    held = info is not None and info.get("count", 0) > 0  # committed items at the last write
    if held and not stored and not given and not (path / DB).is_file():
        raise repair.lost_metadata(path, info, DB)  # not created empty: nothing to guess from
    try:
        meta = MetadataStore(url)
    except SemhashError as exc:
        if not stored or make_url(url).password is not None:
            raise
        raise SemhashError(f"{exc} {SIDECAR} keeps no password: if one is needed, set "
                           f"{DB_URL_ENV} to the full URL (or PGPASSWORD).") from None  # fmt: skip
    if held and meta.is_empty():
        meta.close()
        raise repair.lost_metadata(path, info, safe_url(url))
    return meta


@dataclass
class Chunk:
    """Items to write together: new ones and changed ones (re-encoded under their id)."""

    ids: np.ndarray
    codes: np.ndarray
    inputs: object  # uint8 pixels or sparse counts, one row per id
    new_rows: list[dict] = field(default_factory=list)
    changed_rows: list[dict] = field(default_factory=list)


@dataclass
class Collection:
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

    @property
    def encoder(self) -> HashEncoder:
        """The collection's model, loaded on first use and checked against the codes:
        commands that need no model (info, check, remove) never import torch."""
        if self.loaded_encoder is None:
            self.loaded_encoder = load_encoder(self.path, self.info, self.device)
        return self.loaded_encoder

    @encoder.setter
    def encoder(self, encoder: HashEncoder) -> None:
        self.loaded_encoder = encoder

    def verify_model(self) -> None:
        """Refuse a model file that is not the one the codes were made with: cheaply by its
        sha256 when the sidecar records it, else by loading it."""
        recorded = self.info.get("model_sha256")
        if self.loaded_encoder is None and not (recorded and recorded == _model_sha(self.path)):
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
    def backend(self) -> str:
        return (self.info.get("backend") or {"name": "faiss"})["name"]

    @property
    def bits(self) -> int:
        return self.info["bits"]

    # -- create / open ------------------------------------------------------------------
    @classmethod
    def create(cls, path: str | Path, encoder: HashEncoder, db_url: str | None = None,
               backend: str = "faiss", uri: str | None = None):  # fmt: skip
        """A new collection; metadata in `db_url` (else $SEMHASH_DB_URL, else SQLite inside),
        which must be an empty database."""
        path = Path(path)
        if (path / SIDECAR).exists():
            raise SemhashError(f"{path} already holds a collection.")
        if path.exists() and not path.is_dir():
            raise SemhashError(f"{path} exists and is not a folder.")
        if path.exists() and any(p.name != LOCK for p in path.iterdir()):
            raise SemhashError(f"{path} exists and is not an empty folder or a collection.")
        path.mkdir(parents=True, exist_ok=True)
        db_url = db_url or os.environ.get(DB_URL_ENV) or None
        lock = _acquire(path)
        try:
            meta = new_metadata(db_url or default_db_url(path))
            where = backend_info(backend, uri, path)
        except SemhashError:
            os.close(lock)
            raise
        info = {
            "format": FORMAT, "kind": encoder.config.kind, "bits": encoder.bits,
            "model_type": encoder.config.model_type, "model_fingerprint": encoder.fingerprint(),
            "db_url": safe_url(db_url) if db_url else "", "backend": where, "count": 0,
            "created_at": _now(),
        }  # fmt: skip
        encoder.save(path / MODEL)
        index = new_code_index(encoder.bits, resolved_backend(where, path))
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
        lock = _acquire(path) if write else None
        try:
            return cls._open(path, device, write, db_url, uri, lock)
        except BaseException:
            if lock is not None:
                os.close(lock)
            raise

    @classmethod
    def _open(cls, path: Path, device, write: bool, db_url: str | None, uri: str | None,
              lock: int | None):  # fmt: skip
        info, rebuilt = repair.read_sidecar(path, recover=write)
        if info.get("format") != FORMAT:
            raise SemhashError(f"{path} has collection format {info.get('format')}; "
                               f"this semhash reads format {FORMAT}: index it again.")  # fmt: skip
        meta = open_metadata(path, info.get("db_url") or "", db_url, info)
        try:
            index, lost = cls._open_index(path, info, write, uri), None
        except IndexLost as exc:
            if not write or uri:
                meta.close()
                raise SemhashError(f"{exc} {_lost_hint(path, info, uri)}") from None
            index, lost = cls._new_index(path, info), str(exc)
        if index.bits != info["bits"]:
            meta.close()
            raise SemhashError(
                f"the index in {path} holds {index.bits}-bit codes, not {info['bits']}."
            )
        coll = cls(path, info, None, index, meta, RawStore(path / RAW), write, lock)
        coll.device = str(device)
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
        backend = resolved_backend(info.get("backend"), path)
        try:
            return open_code_index(info["bits"], backend, path / INDEX, uri)
        except IndexLost:
            raise
        except SemhashError as exc:
            own_lite = backend.get("uri") == str((path / LITE_FILE).resolve())
            if own_lite and not write and not repair.milvus_lite_busy(exc):
                raise SemhashError(f"{exc} `semhash check --repair {path}` rebuilds the codes "
                                   "from the model and stored inputs.") from None  # fmt: skip
            if write and not uri and own_lite and not repair.milvus_lite_busy(exc):
                raise IndexLost(
                    f"the Milvus Lite data {path / LITE_FILE} cannot be read."
                ) from None
            raise

    @staticmethod
    def _new_index(path: Path, info: dict) -> CodeIndex:
        """An empty index in place of a lost one (a damaged file or folder set aside)."""
        backend = resolved_backend(info.get("backend"), path)
        if backend["name"] == "faiss":
            repair.set_aside(path / INDEX)
        elif backend.get("uri") == str((path / LITE_FILE).resolve()):
            try:
                return new_code_index(info["bits"], backend)
            except SemhashError:
                repair.set_aside(path / LITE_FILE)
        return new_code_index(info["bits"], backend)

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
        """Differences between the index, the metadata and the raw store (ids; chunk
        numbers for the chunk entries)."""
        live = set(self.meta.labels())
        in_index = self.index.ids()
        uniq, counts = np.unique(in_index, return_counts=True)
        stored = set(self.raw.all()[0].tolist())
        committed = int(self.meta.state("raw_seq", "-1"))
        return {
            "uncommitted input chunks": [s for s, _ in self.raw.chunks() if s > committed],
            "unreadable input chunks": sorted(self.raw.damaged()),
            "duplicate ids in the index": uniq[counts > 1].tolist(),
            "codes without a live metadata row": sorted(set(uniq.tolist()) - live),
            "live rows without a code": sorted(live - set(uniq.tolist())),
            "live rows without stored input": sorted(live - stored),
        }

    def reconcile(self) -> dict[str, int]:
        """Undo what a killed writer left half done and mend what damage allows (needs the
        writer's lock). Codes that nothing explains are kept, never guessed away."""
        committed = int(self.meta.state("raw_seq", "-1"))
        uncommitted = set(self.raw.ids_after(committed).tolist())
        fixed = {"raw chunks dropped": self.raw.truncate(committed),
                 "unreadable chunks set aside": len(self.raw.quarantine())}  # fmt: skip
        for tmp in self.path.glob("*.tmp"):
            tmp.unlink()
        found = self.problems()
        dup = found["duplicate ids in the index"]
        known = uncommitted | set(self.meta.any_by_path().values())  # deleted rows included
        orphans = [i for i in found["codes without a live metadata row"] if i in known]
        kept = len(found["codes without a live metadata row"]) - len(orphans)
        if dup or orphans:
            codes = {i: self.index.reconstruct(i) for i in dup if i not in orphans}
            self.index.remove(np.array(dup + orphans, dtype=np.int64))
            if codes:
                self.index.add(np.stack(list(codes.values())), np.array(list(codes)))
        restored, unstored = repair.restore_codes(self, found["live rows without a code"])
        reread = sorted(set(unstored) | set(found["live rows without stored input"]))
        if reread:  # read again from their files on the next run, under the same ids
            self.meta.invalidate(reread)
        if dup or orphans or restored:
            self.index.save(self.path / INDEX)
        fixed.update({"orphan codes removed": len(orphans), "duplicates removed": len(dup),
                      "codes restored from stored inputs": restored,
                      "rows to read again from their files": len(reread),
                      "unexplained codes kept": kept})  # fmt: skip
        if any(fixed.values()):
            log.warning("repaired %s: %s", self.path, {k: v for k, v in fixed.items() if v})
            self.log_event(f"repaired: {fixed}")
        if kept:
            log.warning(
                "%s holds %d codes that no metadata row explains; they are kept "
                "(was the metadata replaced by an older copy?)",
                self.path,
                kept,
            )
        return fixed

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
        self.encoder = encoder
        if self.backend == "faiss":
            self.index = new_code_index(encoder.bits, {"name": "faiss"})
        elif encoder.bits != self.bits:
            raise SemhashError(
                f"{self.path} keeps {self.bits}-bit codes in Milvus; "
                "a model of another code length needs a new collection."
            )
        else:
            self.index.remove(self.index.ids())
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
        if self.backend != "faiss":
            if strategy not in (None, "flat"):
                raise SemhashError(f"{self.path} keeps its codes in {self.backend}; --strategy "
                                   "applies to collections kept in FAISS.")  # fmt: skip
            return self.index
        strategy = strategy or default_strategy(len(self.index))
        if strategy == "flat":
            return self.index
        params = params or StrategyParams()
        if self.save_derived:
            return open_secondary(self.path, strategy, self.index, params)
        key = (strategy, repr(params))
        if key not in self._derived:
            self._derived[key] = open_secondary(self.path, strategy, self.index, params, False)
        return self._derived[key]

    def model_inputs(self, ids) -> object:
        """Stored inputs of `ids` shaped for the encoder (images as (N, C, H, W))."""
        return self.input_kind.model_input(self.inputs(ids), self)

    def inputs(self, ids) -> object:
        """Stored model inputs for `ids` (rows in the same order)."""
        try:
            return self.raw.get(np.asarray(ids, dtype=np.int64))
        except KeyError as exc:
            raise SemhashError(f"{self.path} keeps no input for that item ({exc}).") from None

    def live_inputs(self) -> tuple[np.ndarray, object]:
        """(ids, inputs) of every live item, ids ascending."""
        ids = np.array(sorted(self.meta.labels()), dtype=np.int64)
        return ids, self.inputs(ids) if len(ids) else None

    def save_info(self) -> None:
        self.info["count"] = self.meta.count()
        self.info["updated_at"] = _now()
        self.info["versions"] = {"semhash": __version__, "faiss": faiss.__version__,
                                 "torch": _torch_version()}  # fmt: skip
        if self.loaded_encoder is not None:  # what `info` and `check` read without torch
            self.info["model"] = self.loaded_encoder.config.to_dict()
            self.info["model_sha256"] = _model_sha(self.path)
        atomic_write(self.path / SIDECAR, json.dumps(self.info, indent=2).encode())

    def log_event(self, text: str) -> None:
        with open(self.path / LOG, "a", encoding="utf-8", errors="backslashreplace") as fh:
            fh.write(f"{_now()} {text}\n")

    def __enter__(self) -> Collection:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self.writable:
            self.save_info()
        self.meta.close()
        if hasattr(self.index, "close"):
            self.index.close()
        if self._lock is not None:
            os.close(self._lock)  # releases the flock
            self._lock = None


def load_encoder(path: Path, info: dict, device: str = "cpu") -> HashEncoder:
    """The model of the collection at `path`, refused unless its codes were made with it."""
    from semantic_hashing.retrieval.codes import HashEncoder
    from semantic_hashing.retrieval.training import resolve_device

    resolve_device(str(device))  # no GPU for --device cuda: that sentence, not a bad model
    try:
        encoder = HashEncoder.load(path / MODEL, device)
    except SemhashError as exc:
        why = str(exc).splitlines()[0][:160]
        raise SemhashError(f"the model of {path} cannot be used ({why}); without it no "
                           "query can be compared with the stored codes: restore model.pt "
                           "from a backup (nothing was changed).") from None  # fmt: skip
    if encoder.fingerprint() != info["model_fingerprint"]:
        raise SemhashError(f"the model in {path} does not match the one its codes were made with.")
    return encoder


def _model_sha(path: Path) -> str | None:
    try:
        return hashlib.sha256((path / MODEL).read_bytes()).hexdigest()
    except OSError:
        return None


def _torch_version() -> str:
    try:
        return importlib.metadata.version("torch")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _lost_hint(path: Path, info: dict, uri: str | None) -> str:
    if uri:
        where = (info.get("backend") or {}).get("uri")
        return f"Give the --uri where its codes live ({SIDECAR} records {where})."
    return f"`semhash check --repair {path}` rebuilds the codes from the model and stored inputs."


def _acquire(path: Path) -> int:
    try:
        fd = os.open(path / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise SemhashError(f"{path} cannot be written ({exc.strerror}); searching it works, "
                           "changing it needs a writable folder.") from None  # fmt: skip
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise SemhashError(
            f"another semhash process is writing to {path}; try again when it has finished."
        ) from None
    return fd


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
