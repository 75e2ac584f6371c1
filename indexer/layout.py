"""The file names of a collection folder (see indexer/store.py for what each holds), and how
a damaged one is set aside."""

import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)

SIDECAR, MODEL, INDEX, DB, RAW, LOG, LOCK = (
    "collection.json", "model.pt", "codes.index", "metadata.sqlite", "raw", "index.log", ".lock",
)  # fmt: skip
LITE_FILE = "milvus.db"  # Milvus Lite data of a collection kept in Milvus without --uri
DAMAGED = ".damaged"  # suffix of a file set aside by a repair (kept, never read again)
FORMAT = 2


def set_aside(path: Path) -> Path | None:
    """Rename a damaged file or folder to `<name>.damaged` (`.damaged.N` when taken)."""
    if not path.exists() and not path.is_symlink():
        return None
    dest, n = path.with_name(path.name + DAMAGED), 1
    while dest.exists():
        dest, n = path.with_name(f"{path.name}{DAMAGED}.{n}"), n + 1
    path.replace(dest)
    log.warning("set the damaged %s aside as %s", path, dest.name)
    return dest


def pin(path: Path) -> int | None:
    """A descriptor of the folder `path` names now (None where /proc/self/fd is missing)."""
    if not os.path.isdir("/proc/self/fd"):
        return None
    try:
        return os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return None


def pinned(fd: int) -> Path:
    return Path(f"/proc/self/fd/{fd}")
