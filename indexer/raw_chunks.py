"""Reading the raw store's chunk files without loading them: where each id's row lies, and
a chunk's pixel rows as a memory map.

A chunk is an uncompressed `.npz` (a zip of `.npy` members, `np.savez`), so the bytes of its
`rows.npy` member lie contiguously in the file after the member's local header and the
array header: `np.memmap` over them reads only the rows asked for. Finding every id needs
only the small `ids.npy` members and the array headers, never the rows.
"""

from __future__ import annotations

import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

READ_ERRORS = (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, struct.error)
VERIFY_BLOCK = 1 << 18  # bytes read at a time to check a member
LOCAL_HEADER = 30  # bytes of a zip local file header before the name and extra field


@dataclass
class Located:
    """The newest row of every stored id: ids sorted, the chunk and row holding each, and
    the rows' width and dtype (`sparse`: text rows, which have no fixed width)."""

    ids: np.ndarray
    seq: np.ndarray
    row: np.ndarray
    width: int = 0
    dtype: np.dtype = np.dtype(np.uint8)
    sparse: bool = False


def _header(zf: zipfile.ZipFile, name: str) -> tuple[tuple, np.dtype]:
    with zf.open(name) as fh:
        version = np.lib.format.read_magic(fh)
        read = {(1, 0): np.lib.format.read_array_header_1_0}.get(
            version, np.lib.format.read_array_header_2_0
        )
        shape, _, dtype = read(fh)
    return shape, dtype


def chunk_layout(path: Path) -> tuple[np.ndarray, tuple]:
    """(ids, (sparse, width, dtype)) of one chunk, from its ids and the rows' header."""
    with zipfile.ZipFile(path) as zf:
        with zf.open("ids.npy") as fh:
            ids = np.lib.format.read_array(fh, allow_pickle=False)
        if "rows.npy" in zf.namelist():
            shape, dtype = _header(zf, "rows.npy")
            if len(shape) != 2:
                raise ValueError("rows are not a table")
            n, layout = shape[0], (False, int(shape[1]), dtype)
        else:
            with zf.open("shape.npy") as fh:
                n, width = (int(x) for x in np.lib.format.read_array(fh, allow_pickle=False))
            layout = (True, width, np.dtype(np.float32))
    if ids.ndim != 1 or ids.dtype.kind not in "iu" or n != len(ids):
        raise ValueError("ids and rows do not match")
    return ids.astype(np.int64), layout


def locate(chunks: list[tuple[int, Path]]) -> Located:
    """Where the newest row of each id lies; chunks that cannot be read, and chunks whose
    rows have another shape than most, are left out (as `RawStore.all` leaves them out)."""
    found: dict[int, tuple[np.ndarray, tuple]] = {}
    for seq, path in chunks:
        try:
            ids, layout = chunk_layout(path)
        except READ_ERRORS:
            continue
        if len(ids):
            found[seq] = (ids, layout)
    if not found:
        return Located(*(np.zeros(0, np.int64) for _ in range(3)))
    shapes = [layout[:2] for _, layout in found.values()]
    usual = max(set(shapes), key=shapes.count)
    found = {s: part for s, part in found.items() if part[1][:2] == usual}
    ids = np.concatenate([part[0] for part in found.values()])
    seq = np.concatenate([np.full(len(p[0]), s, np.int64) for s, p in found.items()])
    row = np.concatenate([np.arange(len(p[0]), dtype=np.int64) for p in found.values()])
    uniq, first = np.unique(ids[::-1], return_index=True)  # the last occurrence wins
    pick = len(ids) - 1 - first
    sparse, width, dtype = next(iter(found.values()))[1]
    return Located(uniq, seq[pick], row[pick], width, np.dtype(dtype), sparse)


def rows_map(path: Path) -> np.ndarray:
    """A chunk's pixel rows, memory-mapped (loaded whole when the member is compressed),
    once the member's bytes match their checksum: a map reads whatever the file holds, so
    a garbled chunk would otherwise give wrong rows without a word."""
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("rows.npy")
        with zf.open(info) as fh:  # zipfile checks the CRC-32 when the member's end is read
            rows = None
            if info.compress_type != zipfile.ZIP_STORED:
                rows = np.lib.format.read_array(fh, allow_pickle=False)
            while fh.read(VERIFY_BLOCK):
                pass
        if rows is not None:
            return rows
    with open(path, "rb") as fh:
        fh.seek(info.header_offset)
        local = fh.read(LOCAL_HEADER)
        if local[:4] != b"PK\x03\x04":
            raise ValueError(f"{path.name}: no zip member where the directory says")
        name_len, extra_len = struct.unpack("<HH", local[26:30])
        fh.seek(info.header_offset + LOCAL_HEADER + name_len + extra_len)
        version = np.lib.format.read_magic(fh)
        read = {(1, 0): np.lib.format.read_array_header_1_0}.get(
            version, np.lib.format.read_array_header_2_0
        )
        shape, fortran, dtype = read(fh)
        offset = fh.tell()
    order = "F" if fortran else "C"
    return np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=shape, order=order)
