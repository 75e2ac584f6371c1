"""Where `index --rebuild` builds (indexer/swap.py) and what a killed one leaves behind;
no store is opened here, so repairs and checks import it freely."""

from __future__ import annotations

import fcntl
import os
import shutil
from pathlib import Path

from semantic_hashing.indexer.layout import LOCK

PREVIOUS = ".previous"  # the state before the last rebuild, inside the collection


def staging_path(path: Path) -> Path:
    path = Path(os.path.abspath(path))
    return path.with_name(f".{path.name}.rebuild.tmp")


def in_progress(folder: Path) -> bool:
    """True while a process holds the writer's lock of `folder` (a rebuild still running)."""
    try:
        fd = os.open(folder / LOCK, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)


def leftovers(path: Path) -> list[Path]:
    """What a killed rebuild left: its staging folder, and the previous state kept inside."""
    found = [p for p in (staging_path(path),) if p.is_dir() and not in_progress(p)]
    return found


def clear_leftovers(path: Path) -> int:
    """Remove a killed rebuild's staging folder and the previous state (needs the lock)."""
    n = 0
    for p in leftovers(path):
        shutil.rmtree(p, ignore_errors=True)
        n += 1
    if (Path(path) / PREVIOUS).is_dir():
        shutil.rmtree(Path(path) / PREVIOUS, ignore_errors=True)
    return n
