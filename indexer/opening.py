"""What opening a collection folder takes besides its class (indexer/store.py): its
writer's lock, its metadata database (the URL recorded without a password), its model
checked against the codes, and where its code store keeps them."""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import importlib.metadata
import os
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import make_url

from semantic_hashing.indexer import repair
from semantic_hashing.indexer.backends import CodeStore, store_of
from semantic_hashing.indexer.layout import DB, LOCK, MODEL, SIDECAR
from semantic_hashing.indexer.metadata import MetadataStore, safe_url
from semantic_hashing.retrieval.errors import SemhashError

if TYPE_CHECKING:
    from semantic_hashing.retrieval.codes import HashEncoder


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


def stored_where(path: Path, info: dict) -> tuple[CodeStore, dict]:
    """The code store of the collection at `path` and its resolved sidecar entry."""
    entry = info.get("backend") or {}
    codes = store_of(entry)
    return codes, codes.resolved(entry, path)


def load_encoder(path: Path, info: dict, device: str = "cpu",
                 files: Path | None = None) -> HashEncoder:  # fmt: skip
    """The model of the collection at `path` (read from `files`, the folder a reader
    opened), refused unless its codes were made with it."""
    from semantic_hashing.retrieval.codes import HashEncoder
    from semantic_hashing.retrieval.training import resolve_device

    resolve_device(str(device))  # no GPU for --device cuda: that sentence, not a bad model
    try:
        encoder = HashEncoder.load((files or path) / MODEL, device)
    except SemhashError as exc:
        why = str(exc).splitlines()[0][:160]
        raise SemhashError(f"the model of {path} cannot be used ({why}); without it no "
                           "query can be compared with the stored codes: restore model.pt "
                           "from a backup (nothing was changed).") from None  # fmt: skip
    if encoder.fingerprint() != info["model_fingerprint"]:
        raise SemhashError(f"the model in {path} does not match the one its codes were made with.")
    return encoder


def model_sha(path: Path) -> str | None:
    """The sha256 of the collection's model file (None when it cannot be read)."""
    try:
        return hashlib.sha256((path / MODEL).read_bytes()).hexdigest()
    except OSError:
        return None


def torch_version() -> str:
    """The installed torch's version, read without importing it."""
    try:
        return importlib.metadata.version("torch")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def lost_hint(path: Path, info: dict, uri: str | None) -> str:
    """What to do when the codes of the collection at `path` are gone."""
    if uri:
        where = (info.get("backend") or {}).get("uri")
        return f"Give the --uri where its codes live ({SIDECAR} records {where})."
    return f"`semhash check --repair {path}` rebuilds the codes from the model and stored inputs."


def acquire_lock(path: Path) -> int:
    """The writer's lock of the collection at `path` (an open descriptor holding a flock),
    or a user error when another process holds it or the folder is read-only."""
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


def now() -> str:
    """UTC now, to the second, as the sidecar and the log record it."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def new_folder(path: Path) -> Path:
    """`path` made ready for a new collection: refused unless missing or empty."""
    if (path / SIDECAR).exists():
        raise SemhashError(f"{path} already holds a collection.")
    if path.exists() and not path.is_dir():
        raise SemhashError(f"{path} exists and is not a folder.")
    if path.exists() and any(p.name != LOCK for p in path.iterdir()):
        raise SemhashError(f"{path} exists and is not an empty folder or a collection.")
    path.mkdir(parents=True, exist_ok=True)
    return path
