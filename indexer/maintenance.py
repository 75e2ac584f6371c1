"""Keeping a collection in order without its model: remove items, check and repair.

Nothing here imports torch unless a repair has to encode again, so `semhash remove` and
`semhash check` start fast.
"""

from __future__ import annotations

from pathlib import Path

from semantic_hashing.indexer.repair import leftovers
from semantic_hashing.indexer.store import Store
from semantic_hashing.retrieval.errors import SemhashError, UnknownItem


def remove_items(collection: str | Path, ids=(), path: str | Path | None = None) -> int:
    """Remove items by id and/or everything indexed at or below `path`; returns the count."""
    coll = Store.open(collection, write=True)
    try:
        wanted = [int(i) for i in ids]
        missing = set(wanted) - set(coll.meta.get(wanted))
        if missing:
            raise UnknownItem(f"id {min(missing)} is not in {collection}.")
        if path is not None:
            found = coll.meta.ids_under(str(Path(path).resolve()))
            if not found:
                raise SemhashError(f"nothing indexed in {collection} lies at or below {path}.")
            wanted += found
        n = coll.remove(wanted)
        coll.log_event(f"removed {n} items")
        return n
    finally:
        coll.close()


def check_collection(collection: str | Path, repair: bool = False) -> dict:
    """Problems found between index, metadata and stored inputs; with `repair`, fixed (a
    collection too damaged to open is repaired first, then checked)."""
    try:
        coll = Store.open(collection)
    except SemhashError as exc:
        if not repair:
            raise
        result = {"items": 0, "problems": {"cannot be opened": 1}, "opened": str(exc)}
    else:
        try:
            coll.verify_model()
            found = {k: len(v) for k, v in coll.problems().items()}
            result = {"items": len(coll.index), "problems": {**found, **leftovers(coll)}}
        finally:
            coll.close()
    if repair:
        from semantic_hashing.indexer.training import (
            reread_stale,  # reading files again needs the readers
        )

        coll = Store.open(collection, write=True)  # opening for writing repairs
        try:
            result["repaired"] = {**coll.repairs, **reread_stale(coll)}
            after = {k: len(v) for k, v in coll.problems().items()}
            result["problems_after"] = {**after, **leftovers(coll)}
        finally:
            coll.close()
    return result
