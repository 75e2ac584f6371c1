"""Crash-safe file writes: readers see either the old file or the new one, never half."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from semantic_hashing.retrieval.errors import SemhashError


def atomic_write(path: Path, data: bytes) -> None:
    """Write `data` to a temporary name beside `path`, fsync, then rename over `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def fsync_dir(folder: Path) -> None:
    """Make a rename in `folder` durable (no-op where directories cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def check_writable(path: Path, what: str) -> None:
    """Refuse, before any work, a file target that cannot be written: a folder, or a place
    whose nearest existing folder is read-only."""
    path = Path(path)
    if path.is_dir():
        raise SemhashError(f"{what} {path} is a folder; give a file name.")
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK):
        raise SemhashError(f"{what} {path} cannot be written: {parent} is not a writable folder.")


def folder_label(path: Path, root: Path) -> str:
    """The parent folder relative to the indexed root ('' for files directly in it)."""
    if not root.is_dir():
        return ""
    try:
        parent = path.parent.resolve().relative_to(root.resolve())
    except ValueError:  # a symlinked file: use the folder it is listed in
        parent = Path(os.path.relpath(path.parent, root))
    return "" if str(parent) == "." else str(parent)


def sha256_of(path: str | Path) -> str:
    """The sha256 of a file's bytes, read in 1 MiB blocks (OSError when it cannot be read)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_sha256(path: str | Path) -> str:
    """`sha256_of`, or "" when the file cannot be read."""
    try:
        return sha256_of(path)
    except OSError:
        return ""


_CONTROL = {c: f"\\x{c:02x}" for c in (*range(0x20), *range(0x7F, 0xA0))}
_CONTROL.update({0x09: "\\t", 0x0A: "\\n", 0x0D: "\\r"})


def printable(name: object) -> str:
    """`name` for a line of plain-text output: control characters (C0, DEL, C1) escaped as
    `\\n`, `\\t`, `\\r` or `\\xNN`, so a file name can neither break a line nor send a
    terminal escape sequence. JSON output keeps names exact."""
    return str(name).translate(_CONTROL)
