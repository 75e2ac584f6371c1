"""Model inputs of every item, kept for the raw baselines and for search by stored id.

An append-only log of chunk files `raw/<seq>.npz`, each holding `ids` and their rows
(uint8 pixels, or sparse word counts for text). A later chunk overrides an earlier one
for the same id (a changed file re-encoded under its id). A chunk is written to a
temporary name and renamed, so a crash leaves whole chunks only; chunks newer than the
metadata's last commit are dropped by `truncate()`. A chunk that cannot be read (truncated,
garbage) is left out of `all()` and listed by `damaged()`; `quarantine()` moves it to
`raw/damaged/` so that the items it held can be read again from their files.
"""

from __future__ import annotations

import io
import logging
import re
import zipfile
from pathlib import Path

import numpy as np
from scipy import sparse

from semantic_hashing.indexer.raw_chunks import READ_ERRORS, Located, locate, rows_map
from semantic_hashing.retrieval.fsutil import atomic_write

log = logging.getLogger(__name__)

CHUNK = re.compile(r"^(\d{8})\.npz$")
DAMAGED = "damaged"
BULK_ROWS = 65536  # a read of more rows keeps no chunk mapped after it is read (a million
# colour items map 3 GB, which would count in the reading process's resident memory)


class RawStore:
    def __init__(self, folder: Path):
        self.folder = folder
        self._cache: tuple[np.ndarray, object] | None = None
        self._damaged: dict[int, str] = {}  # seq -> why it cannot be read
        self._located: Located | None = None  # where each id's row lies
        self._maps: dict[int, np.ndarray] = {}  # seq -> its rows, memory-mapped

    def _changed(self) -> None:
        """Chunks were written, dropped or moved: what was read from them is stale."""
        self._cache = self._located = None
        self._damaged, self._maps = {}, {}

    def chunks(self) -> list[tuple[int, Path]]:
        if not self.folder.is_dir():
            return []
        found = [(int(m.group(1)), p) for p in self.folder.iterdir() if (m := CHUNK.match(p.name))]
        return sorted(found)

    def append(self, ids: np.ndarray, rows) -> int:
        """Write one chunk after the last one; returns its sequence number."""
        seq = self.last_seq() + 1
        self._write(seq, np.asarray(ids, dtype=np.int64), rows)
        return seq

    def last_seq(self) -> int:
        chunks = self.chunks()
        return chunks[-1][0] if chunks else -1

    def ids_after(self, last_seq: int) -> np.ndarray:
        """Ids held by the readable chunks after `last_seq` (an uncommitted run's)."""
        found = [np.zeros(0, np.int64)]
        for seq, path in self.chunks():
            if seq > last_seq:
                try:
                    found.append(self._load(path)[0])
                except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
                    continue
        return np.concatenate(found)

    def truncate(self, last_seq: int) -> int:
        """Drop chunks after `last_seq` (written by a run that died before committing)."""
        dropped = 0
        for seq, path in self.chunks():
            if seq > last_seq:
                path.unlink()
                dropped += 1
        self._changed()
        return dropped

    @staticmethod
    def _load(path: Path):
        with np.load(path, allow_pickle=False) as z:
            if "rows" in z:
                ids, rows = z["ids"], z["rows"]
            else:
                shape = tuple(int(x) for x in z["shape"])
                rows = sparse.csr_matrix((z["data"], z["indices"], z["indptr"]), shape)
                ids = z["ids"]
        if ids.ndim != 1 or ids.dtype.kind not in "iu" or rows.shape[0] != len(ids):
            raise ValueError("ids and rows do not match")
        return ids.astype(np.int64), rows

    def _readable(self) -> list[tuple[np.ndarray, object]]:
        """The readable chunks in order; unreadable ones are noted in `_damaged`."""
        parts, self._damaged = {}, {}
        for seq, path in self.chunks():
            try:
                part = self._load(path)
            except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
                self._damaged[seq] = f"{type(exc).__name__}: {exc}"[:200]
                continue
            if len(part[0]):
                parts[seq] = part
        for seq in _foreign({s: (sparse.issparse(r), r.shape[1]) for s, (_, r) in parts.items()}):
            self._damaged[seq] = "rows of another shape than the other chunks"
            del parts[seq]
        for seq, why in self._damaged.items():
            log.warning("input chunk %08d.npz cannot be read (%s)", seq, why)
        return list(parts.values())

    def damaged(self) -> dict[int, str]:
        """seq -> reason of every chunk that cannot be read (each chunk is read whole, its
        checksum verified, one at a time: memory stays that of one chunk)."""
        found, shapes = {}, {}
        for seq, path in self.chunks():
            try:
                ids, rows = self._load(path)
            except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
                found[seq] = f"{type(exc).__name__}: {exc}"[:200]
                continue
            if len(ids):
                shapes[seq] = (sparse.issparse(rows), rows.shape[1])
        for seq in _foreign(shapes):
            found[seq] = "rows of another shape than the other chunks"
        self._damaged = found
        self._located = None  # the ids of a chunk found damaged now are no longer stored
        return dict(found)

    def quarantine(self) -> list[Path]:
        """Move unreadable chunks to raw/damaged/ (kept for inspection, never read again)."""
        moved = []
        for seq in self.damaged():
            src = self.folder / f"{seq:08d}.npz"
            dest = self.folder / DAMAGED / src.name
            dest.parent.mkdir(exist_ok=True)
            n = 1
            while dest.exists():
                dest, n = dest.with_name(f"{src.stem}.{n}.npz"), n + 1
            src.replace(dest)
            moved.append(dest)
        self._changed()
        return moved

    def all(self) -> tuple[np.ndarray, object]:
        """(ids sorted, rows): the newest row of every id ever stored (all in memory; `ids`
        and `get` read far less)."""
        if self._cache is None:
            parts = self._readable()
            if not parts:
                return np.zeros(0, np.int64), None
            ids = np.concatenate([p[0] for p in parts])
            is_sparse = sparse.issparse(parts[0][1])
            rows = (
                sparse.vstack([p[1] for p in parts]).tocsr()
                if is_sparse
                else np.concatenate([p[1] for p in parts])
            )
            # the last occurrence of each id wins: unique over the reversed order
            rev_ids = ids[::-1]
            uniq, first = np.unique(rev_ids, return_index=True)
            pick = len(ids) - 1 - first
            self._cache = (uniq, rows[pick])
        return self._cache

    def ids(self) -> np.ndarray:
        """The ids `all()` holds, sorted, read from the chunks' id lists alone."""
        return self._locate().ids

    def get(self, ids) -> object:
        """Rows for `ids` (each must have been stored). Pixel rows are read through memory
        maps of the chunks, so only the rows asked for are read; text rows from `all()`.
        An id not found is looked for once more in the chunks as they are now: another
        process may have appended some since this store read their list."""
        ids = np.asarray(ids, dtype=np.int64)
        try:
            return self._get(ids)
        except KeyError:
            self._changed()
            return self._get(ids)

    def _get(self, ids: np.ndarray) -> object:
        where = self._locate()
        if where.sparse or self._cache is not None:
            return self._get_loaded(ids)
        pos = np.searchsorted(where.ids, ids)
        ok = pos < len(where.ids)  # an empty or unreadable store holds no id at all
        ok[ok] = where.ids[pos[ok]] == ids[ok]
        if not np.all(ok):
            raise KeyError(f"no stored input for id {ids[~ok][0]}")
        seq, row = where.seq[pos], where.row[pos]
        out = np.empty((len(ids), where.width), dtype=where.dtype)
        bulk = len(ids) > BULK_ROWS  # maps dropped once read: their pages count as resident
        for s in np.unique(seq):
            mask = seq == s
            try:
                out[mask] = self._rows_map(int(s))[row[mask]]
            except READ_ERRORS as exc:
                raise KeyError(f"no readable stored input for id {ids[mask][0]} ({exc})") from None
            if bulk:
                self._maps.pop(int(s), None)
        return out

    def _get_loaded(self, ids: np.ndarray) -> object:
        all_ids, rows = self.all()
        pos = np.searchsorted(all_ids, ids)
        ok = pos < len(all_ids)
        ok[ok] = all_ids[pos[ok]] == ids[ok]
        if not np.all(ok):
            raise KeyError(f"no stored input for id {ids[~ok][0]}")
        return rows[pos]

    def _locate(self) -> Located:
        """Where the newest row of each id lies (chunk, row), from the chunks' id lists and
        row headers; a chunk whose structure cannot be read is left out, as in `all()`."""
        if self._located is None:
            self._located = locate([c for c in self.chunks() if c[0] not in self._damaged])
            self._maps = {}
        return self._located

    def _rows_map(self, seq: int) -> np.ndarray:
        if seq not in self._maps:
            self._maps[seq] = rows_map(self.folder / f"{seq:08d}.npz")
        return self._maps[seq]

    def compact(self, keep_ids: np.ndarray) -> int:
        """Write one chunk holding only `keep_ids`; returns its sequence number. The caller
        commits that number, then calls `truncate_before(seq)` to drop the older chunks."""
        keep = np.sort(np.asarray(keep_ids, dtype=np.int64))
        seq = self.last_seq() + 1
        self._write(seq, keep, self.get(keep) if len(keep) else np.zeros((0, 0), np.uint8))
        return seq

    def truncate_before(self, first_seq: int) -> None:
        for seq, path in self.chunks():
            if seq < first_seq:
                path.unlink()
        self._changed()

    def _write(self, seq: int, ids: np.ndarray, rows) -> None:
        buf = io.BytesIO()
        if sparse.issparse(rows):
            csr = rows.tocsr()
            np.savez(buf, ids=ids, data=csr.data, indices=csr.indices, indptr=csr.indptr,
                     shape=np.array(csr.shape))  # fmt: skip
        else:
            np.savez(buf, ids=ids, rows=np.ascontiguousarray(rows).reshape(len(ids), -1))
        atomic_write(self.folder / f"{seq:08d}.npz", buf.getvalue())
        self._changed()


def _foreign(shapes: dict[int, tuple]) -> list[int]:
    """Chunks whose rows have another shape than most (a foreign chunk is left out)."""
    if not shapes:
        return []
    values = list(shapes.values())
    usual = max(set(values), key=values.count)
    return [seq for seq, shape in shapes.items() if shape != usual]
