"""What a damaged collection can get back from what it still holds.

Opening a collection for writing (`index`, `remove`, `check --repair`) reconciles what a
killed writer left half done (`reconcile`) and repairs:

    collection.json missing or damaged   rebuilt from model.pt, the codes and the metadata
                                         (SQLite file inside; the damaged one set aside)
    codes.index or Milvus data lost      codes re-encoded with model.pt from raw/ (items
                                         without a stored input are read again from files)
    raw/*.npz unreadable                 moved to raw/damaged/; its items are read again
                                         from their files

A repair never removes what it cannot explain: codes that no metadata row accounts for are
kept and reported, and a collection whose metadata is gone is refused, never emptied (the
metadata is the only record of which file each code belongs to).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
from pathlib import Path

import numpy as np

from semantic_hashing.indexer import journal, staging
from semantic_hashing.indexer.layout import (
    DB,
    FORMAT,
    INDEX,
    MODEL,
    RAW,
    SIDECAR,
    set_aside,
)
from semantic_hashing.indexer.metadata import MetadataStore
from semantic_hashing.indexer.raw_store import RawStore
from semantic_hashing.retrieval.errors import SemhashError

log = logging.getLogger(__name__)

ENCODE_BATCH = 4096


def holds_data(path: Path) -> bool:
    """True when a folder without a usable sidecar still holds items: stored inputs, or a
    metadata file with rows (a creation killed before its sidecar holds neither)."""
    if RawStore(path / RAW).chunks():
        return True
    db = path / DB
    if not db.is_file() or db.stat().st_size == 0:
        return False
    try:
        meta = MetadataStore(f"sqlite:///{db.resolve()}")
    except SemhashError:
        return True  # a damaged metadata file is still somebody's data
    try:
        return not meta.is_empty()
    except SemhashError:
        return True
    finally:
        meta.close()


def lost_metadata(path: Path, info: dict, where: str) -> SemhashError:
    return SemhashError(
        f"the metadata of {path} ({where}) is missing or empty although the collection held "
        f"{info.get('count', 0)} items: it is the only record of which file each code belongs "
        "to, so nothing was changed. Restore it from a backup, or index the folder again into "
        "a new collection."
    )


def recover_sidecar(path: Path) -> dict:
    """A new collection.json from what the folder holds (the damaged one set aside)."""
    from semantic_hashing.indexer.backends import recovered_entry

    if not (path / DB).is_file():
        raise SemhashError(
            f"{path / SIDECAR} is missing or damaged and {DB} is not in the folder: the sidecar "
            "recorded where the metadata lives. Restore it from a backup."
        )
    from semantic_hashing.retrieval.codes import HashEncoder  # rebuilding a sidecar reads the model

    encoder = HashEncoder.load(path / MODEL)
    backend = recovered_entry(path)
    set_aside(path / SIDECAR)
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    info = {
        "format": FORMAT, "kind": encoder.config.kind, "bits": encoder.bits,
        "model_type": encoder.config.model_type, "model_fingerprint": encoder.fingerprint(),
        "db_url": "", "backend": backend, "count": 0, "created_at": now, "recovered_at": now,
    }  # fmt: skip
    log.warning("rebuilt %s from the model, the codes and the metadata", path / SIDECAR)
    return info


def read_sidecar(path: Path, recover: bool) -> tuple[dict, bool]:
    """(collection.json, whether it was rebuilt). A missing or damaged sidecar is rebuilt
    when `recover` (opening for writing) and the folder still holds items, else refused."""
    try:
        info = json.loads((path / SIDECAR).read_text())
        if not isinstance(info, dict) or not {"bits", "kind", "model_fingerprint"} <= set(info):
            raise ValueError("fields are missing")
        return info, False
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        missing = not (path / SIDECAR).exists()
        if recover and holds_data(path):
            return recover_sidecar(path), True
        why = "is missing" if missing else f"cannot be read ({exc})"
        raise SemhashError(
            f"{path / SIDECAR} {why}; `semhash check --repair {path}` rebuilds it."
        ) from None


def encode_stored(coll, ids: np.ndarray) -> np.ndarray:
    """Codes of items from their stored inputs (the collection's own model)."""
    out = []
    for start in range(0, len(ids), ENCODE_BATCH):
        out.append(coll.encoder.encode(coll.model_inputs(ids[start : start + ENCODE_BATCH])))
    return np.concatenate(out) if out else np.zeros((0, coll.bits // 8), np.uint8)


def restore_codes(coll, ids) -> tuple[int, list[int]]:
    """Add the codes of live `ids` again, encoded from their stored inputs; returns (count
    restored, ids without a stored input: to read again from their files)."""
    ids = np.asarray(sorted(ids), dtype=np.int64)
    stored = coll.raw.ids()
    has = np.isin(ids, stored)
    if has.any():
        coll.index.add(encode_stored(coll, ids[has]), ids[has])
    return int(has.sum()), ids[~has].tolist()


def temporary_files(path: Path) -> list[Path]:
    """What a killed or failed write left: `*.tmp` in the collection and in raw/."""
    path = Path(path)
    found = [p for p in path.glob("*.tmp") if p.is_file()]
    return found + [p for p in (path / RAW).glob("*.tmp") if p.is_file()]


def remove_temporary(path: Path) -> int:
    found = temporary_files(path)
    for tmp in found:
        tmp.unlink(missing_ok=True)
    return len(found)


def leftovers(store) -> dict[str, int]:
    """What `check` finds besides the differences of `problems` (a stat per item): items
    whose files are gone, a killed dedup action, and temporary files nobody writes now."""
    writing = staging.in_progress(store.path)  # a running writer's temporaries are its own
    tmp = 0 if writing else len(temporary_files(store.path)) + len(staging.leftovers(store.path))
    return {
        "listed items whose files are missing": sum(
            not os.path.exists(p) for p in store.meta.live()
        ),
        "interrupted dedup actions": int(journal.pending(store.path) and not writing),
        "leftover temporary files": tmp,
    }


def _sorted_unique(ids) -> tuple[np.ndarray, np.ndarray]:
    """(distinct ids ascending, mask of the first of each in the sorted ids): by sorting,
    which at a million ids took a tenth of np.unique's hashing."""
    ids = np.sort(np.asarray(ids, dtype=np.int64))
    first = np.ones(len(ids), dtype=bool)
    first[1:] = ids[1:] != ids[:-1]
    return ids[first], first


def problems(store, damaged: dict | None = None) -> dict[str, list[int]]:
    """Differences between a store's index, metadata and raw inputs (ids; chunk numbers
    for the chunk entries). `damaged`: the raw chunks' damage as just verified, when the
    caller did (verifying reads every stored input: 3 GB at a million colour items)."""
    live = store.meta.live_ids()  # ascending, unique
    uniq, first = _sorted_unique(store.index.ids())
    counts = np.diff(np.r_[np.flatnonzero(first), len(first)])
    stored = store.raw.ids()  # ascending, unique
    committed = int(store.meta.state("raw_seq", "-1"))
    damaged = store.raw.damaged() if damaged is None else damaged
    return {
        "uncommitted input chunks": [s for s, _ in store.raw.chunks() if s > committed],
        "unreadable input chunks": sorted(damaged),
        "duplicate ids in the index": uniq[counts > 1].tolist(),
        "codes without a live metadata row": np.setdiff1d(uniq, live, True).tolist(),
        "live rows without a code": np.setdiff1d(live, uniq, True).tolist(),
        "live rows without stored input": np.setdiff1d(live, stored, True).tolist(),
    }


def reconcile(store) -> dict[str, int]:
    """Undo what a killed writer left half done in a store opened for writing and mend
    what damage allows. Codes that nothing explains are kept, never guessed away."""
    committed = int(store.meta.state("raw_seq", "-1"))
    uncommitted = set(store.raw.ids_after(committed).tolist())
    fixed = {"raw chunks dropped": store.raw.truncate(committed),
             "unreadable chunks set aside": len(store.raw.quarantine())}  # fmt: skip
    fixed["interrupted dedup moves completed"] = journal.recover(store)
    fixed["temporary files removed"] = remove_temporary(store.path)
    fixed["unfinished rebuilds removed"] = staging.clear_leftovers(store.path)
    found = problems(store, damaged={})  # every unreadable chunk was just set aside
    dup = found["duplicate ids in the index"]
    unexplained = found["codes without a live metadata row"]
    known = uncommitted | set(store.meta.any_by_path().values()) if unexplained else set()
    orphans = [i for i in unexplained if i in known]  # deleted rows included in `known`
    kept = len(unexplained) - len(orphans)
    if dup or orphans:
        codes = {i: store.index.reconstruct(i) for i in dup if i not in orphans}
        store.index.remove(np.array(dup + orphans, dtype=np.int64))
        if codes:
            store.index.add(np.stack(list(codes.values())), np.array(list(codes)))
    restored, unstored = restore_codes(store, found["live rows without a code"])
    reread = sorted(set(unstored) | set(found["live rows without stored input"]))
    if reread:  # read again from their files on the next run, under the same ids
        store.meta.invalidate(reread)
    if dup or orphans or restored:
        store.index.save(store.path / INDEX)
    fixed.update({"orphan codes removed": len(orphans), "duplicates removed": len(dup),
                  "codes restored from stored inputs": restored,
                  "rows to read again from their files": len(reread),
                  "unexplained codes kept": kept})  # fmt: skip
    if any(fixed.values()):
        log.warning("repaired %s: %s", store.path, {k: v for k, v in fixed.items() if v})
        store.log_event(f"repaired: {fixed}")
    if kept:
        log.warning(
            "%s holds %d codes that no metadata row explains; they are kept "
            "(was the metadata replaced by an older copy?)",
            store.path,
            kept,
        )
    return fixed
