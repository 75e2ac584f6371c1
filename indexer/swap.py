"""`index --rebuild` builds beside the live collection and swaps the result in at the end.

    <parent>/.<name>.rebuild.tmp/   the new state while it is built (its own writer's lock
                                    held by the rebuild; a leftover one, from a killed
                                    rebuild, is removed by the next writer or check --repair)
    <collection>/.previous/         the state before the last rebuild, kept for the readers
                                    that opened it until the next writer opens the collection

The swap is one `renameat2(RENAME_EXCHANGE)` of the two folders, so a reader opening the
collection by its path finds the old state or the new one, never a mix; a reader that
opened the old state keeps reading it through its folder's descriptor (Store.files).
Only collections whose metadata and codes both live inside the folder (SQLite, FAISS) are
rebuilt this way; the others are still re-encoded in place.
"""

from __future__ import annotations

import ctypes
import errno
import json
import logging
import os
import shutil
import sqlite3
from pathlib import Path

from semantic_hashing.indexer.backends import store_of
from semantic_hashing.indexer.layout import DB, INDEX, LOG, MODEL, RAW
from semantic_hashing.indexer.metadata import MetadataStore
from semantic_hashing.indexer.opening import acquire_lock, default_db_url
from semantic_hashing.indexer.raw_store import RawStore
from semantic_hashing.indexer.staging import PREVIOUS, staging_path
from semantic_hashing.retrieval.fsutil import fsync_dir

log = logging.getLogger(__name__)

_AT_FDCWD, _RENAME_EXCHANGE = -100, 2


def can_stage(live) -> bool:
    """Metadata in the SQLite file inside and codes in the FAISS file inside."""
    return not live.info.get("db_url") and store_of(live.info.get("backend")).name == "faiss"


def stage(live, encoder, keep_inputs: bool = False):
    """A writable Store beside `live` (whose lock the caller holds): the same rows, every
    one to encode again with `encoder`, an empty index and no stored inputs (with
    `keep_inputs`, a copy of the live stored inputs, for a model that reads them as they are)."""
    from semantic_hashing.indexer.store import Store

    dest = staging_path(live.path)
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir()
    lock = acquire_lock(dest)
    try:
        src = sqlite3.connect(str((live.path / DB).resolve()))
        dst = sqlite3.connect(str(dest / DB))
        with dst:
            src.backup(dst)
        src.close()
        dst.close()
        if (live.path / LOG).is_file():
            shutil.copy2(live.path / LOG, dest / LOG)
        if keep_inputs and (live.path / RAW).is_dir():
            shutil.copytree(live.path / RAW, dest / RAW)
        info = json.loads(json.dumps(live.info))
        for key in ("model", "model_sha256"):
            info.pop(key, None)
        info.update(bits=encoder.bits, model_type=encoder.config.model_type,
                    model_fingerprint=encoder.fingerprint())  # fmt: skip
        encoder.save(dest / MODEL)
        codes = store_of(info.get("backend"))
        index = codes.create(encoder.bits, codes.resolved(info.get("backend") or {}, dest))
        meta = MetadataStore(default_db_url(dest))
        meta.invalidate(sorted(meta.labels()))
        if not keep_inputs:
            meta.commit(state={"raw_seq": "-1"})
        staged = Store(dest, info, encoder, index, meta, RawStore(dest / RAW), True, lock)
        index.save(dest / INDEX)
        staged.save_info()
        return staged
    except BaseException:
        os.close(lock)
        shutil.rmtree(dest, ignore_errors=True)
        raise


def discard(staged) -> None:
    """Drop an unfinished staging folder (the live collection was never touched)."""
    try:
        staged.close()
    finally:
        shutil.rmtree(staged.path, ignore_errors=True)


def exchange(a: Path, b: Path) -> None:
    """Swap the names of two folders in one step (Linux renameat2); elsewhere two renames."""
    fn = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)
    if fn is not None:
        if fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
            return
        err = ctypes.get_errno()
        if err not in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
            raise OSError(err, os.strerror(err), str(a))
    tmp = b.with_name(b.name + ".swap.tmp")
    os.rename(b, tmp)
    os.rename(a, b)
    os.rename(tmp, a)


def swap_in(live, staged) -> None:
    """Put the finished `staged` state in place of `live`; both locks are held until the
    names are swapped, so no other writer starts in between. Closes both stores."""
    staged_lock, staged._lock = staged._lock, None
    live_lock, live._lock = live._lock, None
    try:
        staged.close()
        live.writable = False  # its sidecar must not be written over the new one
        live.close()
        old_previous = live.path / PREVIOUS
        if old_previous.is_dir():
            shutil.rmtree(old_previous, ignore_errors=True)
        fsync_dir(staged.path)
        exchange(staged.path, live.path)
        os.rename(staged.path, live.path / PREVIOUS)  # the old state, for its readers
        fsync_dir(live.path)
        fsync_dir(live.path.parent)
    finally:
        os.close(staged_lock)
        os.close(live_lock)
    log.info("swapped the rebuilt collection into %s", live.path)
