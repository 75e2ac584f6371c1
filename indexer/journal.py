"""The plan of a dedup action (move or link), written to `<collection>/dedup.journal`
before the first file moves and removed once the collection has forgotten the moved items.

A journal left behind means the action was killed: the next writer of the collection
(`check --repair`, a rerun of dedup, `index`) completes it. A move counts as done once its
destination exists: a step caught between the new name and the removal of the old one
(both names on one file) is finished by removing the old name; a step not begun stays
undone. The items whose files moved are then removed from the collection, so it never
lists a file that was moved away.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from semantic_hashing.retrieval.fsutil import atomic_write, fsync_dir

log = logging.getLogger(__name__)

JOURNAL = "dedup.journal"


def write(folder: Path, action: str, steps: list[tuple[int, str, str]]) -> None:
    data = {"action": action, "steps": [list(s) for s in steps]}
    atomic_write(Path(folder) / JOURNAL, json.dumps(data).encode())


def clear(folder: Path) -> None:
    try:
        os.unlink(Path(folder) / JOURNAL)
    except FileNotFoundError:
        return
    fsync_dir(Path(folder))


def pending(folder: Path) -> bool:
    return (Path(folder) / JOURNAL).exists()


def _same(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def recover(store) -> int:
    """Complete the killed action a journal describes (needs the writer's lock); returns
    the number of moved items removed from the collection."""
    path = Path(store.path) / JOURNAL
    if not path.exists():
        return 0
    try:
        data = json.loads(path.read_text())
        action, steps = data["action"], data["steps"]
    except (OSError, ValueError, KeyError, TypeError):
        log.warning("%s cannot be read; set aside", path)
        path.replace(path.with_name(JOURNAL + ".damaged"))
        return 0
    moved = []
    for item_id, source, target in steps:
        for tmp in Path(target).parent.glob(".semhash-*"):  # a cross-device copy's temporary
            tmp.unlink(missing_ok=True)
        if action != "move" or not os.path.lexists(target):
            continue
        if os.path.lexists(source) and _same(source, target):
            os.unlink(source)  # the new name was made: finish the move
            fsync_dir(Path(source).parent)
        if not os.path.lexists(source):
            moved.append(int(item_id))
    live = store.meta.get(moved)
    n = store.remove([i for i in moved if i in live]) if live else 0
    if n:
        store.log_event(f"completed an interrupted dedup move: {n} moved items removed")
        log.warning("completed an interrupted dedup move in %s: %d moved items removed",
                    store.path, n)  # fmt: skip
    clear(store.path)
    return n
