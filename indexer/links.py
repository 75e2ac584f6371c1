"""Items a folder reaches through links: which link brought each in, so `index --prune`
forgets the item once the link is gone.

An item is stored under its real path (`writing.item_key`), so a file outside the indexed
folder that a link inside it points to is stored outside the folder; pruning by prefix
alone would never see it go. Each run records, in the metadata's state, one key per
listed path whose real path lies outside the folder:

    via:<sha256 of the listed path, 56 hex>  ->  ["<listed path>", "<real path>"]

A later `--prune` of a folder holding the listed path drops the record when that path is
no longer listed or now leads elsewhere, and removes the item unless the run reached it
some other way.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)

PREFIX = "via:"


def _state_key(listed: str) -> str:
    digest = hashlib.sha256(os.fsencode(listed)).hexdigest()[:56]
    return PREFIX + digest


def _below(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def outside(path: Path, key: str, real_root: str) -> str | None:
    """The absolute listed path of `path` when its real path `key` lies outside the real
    indexed root, else None."""
    return None if _below(key, real_root) else os.path.abspath(path)


def record(meta, links: dict[str, str], stale: list[str] = ()) -> None:
    """Drop the `stale` records, remember which listed path leads to which real path."""
    meta.drop_states(stale)
    if links:
        state = {_state_key(k): json.dumps([k, v]) for k, v in links.items()}
        meta.commit(state=state)


def stale(meta, root: Path, links: dict[str, str]) -> dict[str, str]:
    """Records of listed paths below `root` that this run no longer lists, or that now lead
    elsewhere: state key -> the real path the link led to."""
    folder = os.path.abspath(root)
    out = {}
    for key, value in meta.states(PREFIX).items():
        try:
            listed, real = json.loads(value)
        except (ValueError, TypeError):
            log.warning("unreadable link record %s dropped", key)
            out[key] = ""
            continue
        if _below(listed, folder) and links.get(listed) != real:
            out[key] = real
    return out


def gone(meta, live: dict, root: Path, links: dict[str, str], seen: set[str]):
    """(ids of live items only a vanished link reached, state keys to drop)."""
    old = stale(meta, root, links)
    ids = sorted({live[real][0] for real in old.values() if real in live and real not in seen})
    return ids, list(old)
