"""Model inputs of every item, kept for the raw baselines and for search by stored id.

An append-only log of chunk files `raw/<seq>.npz`, each holding `ids` and their rows
(uint8 pixels, or sparse word counts for text). A later chunk overrides an earlier one
for the same id (a changed file re-encoded under its id). A chunk is written to a
temporary name and renamed, so a crash leaves whole chunks only; chunks newer than the
metadata's last commit are dropped by `truncate()`.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
from scipy import sparse

from retrieval.fsutil import atomic_write

CHUNK = re.compile(r"^(\d{8})\.npz$")


class RawStore:
    def __init__(self, folder: Path):
        self.folder = folder
        self._cache: tuple[np.ndarray, object] | None = None

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

    def truncate(self, last_seq: int) -> int:
        """Drop chunks after `last_seq` (written by a run that died before committing)."""
        dropped = 0
        for seq, path in self.chunks():
            if seq > last_seq:
                path.unlink()
                dropped += 1
        self._cache = None
        return dropped

    @staticmethod
    def _load(path: Path):
        with np.load(path) as z:
            if "rows" in z:
                return z["ids"], z["rows"]
            shape = tuple(z["shape"])
            return z["ids"], sparse.csr_matrix((z["data"], z["indices"], z["indptr"]), shape)

    def all(self) -> tuple[np.ndarray, object]:
        """(ids sorted, rows): the newest row of every id ever stored."""
        if self._cache is None:
            parts = [part for _, p in self.chunks() if len((part := self._load(p))[0])]
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

    def get(self, ids) -> object:
        """Rows for `ids` (each must have been stored)."""
        all_ids, rows = self.all()
        pos = np.searchsorted(all_ids, ids)
        ok = (pos < len(all_ids)) & (all_ids[np.minimum(pos, len(all_ids) - 1)] == ids)
        if not np.all(ok):
            raise KeyError(f"no stored input for id {np.asarray(ids)[~ok][0]}")
        return rows[pos]

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
        self._cache = None

    def _write(self, seq: int, ids: np.ndarray, rows) -> None:
        buf = io.BytesIO()
        if sparse.issparse(rows):
            csr = rows.tocsr()
            np.savez(buf, ids=ids, data=csr.data, indices=csr.indices, indptr=csr.indptr,
                     shape=np.array(csr.shape))  # fmt: skip
        else:
            np.savez(buf, ids=ids, rows=np.ascontiguousarray(rows).reshape(len(ids), -1))
        atomic_write(self.folder / f"{seq:08d}.npz", buf.getvalue())
        self._cache = None
