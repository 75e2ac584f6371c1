"""A FAISS binary index with the project's own stable int64 ids, and the FAISS code store.

`IndexBinaryIDMap2` over `IndexBinaryFlat`: exact Hamming search, ids chosen by us, codes
retrievable by id. Search returns `(D, I)` like FAISS, each row sorted by (distance, id) so
that results are deterministic; missing neighbours are `-1`. `FaissStore` keeps a
collection's codes in such an index, saved as the file `codes.index` beside the sidecar.
"""

from __future__ import annotations

import re
from pathlib import Path

import faiss
import numpy as np

from semantic_hashing.indexer.layout import INDEX, set_aside
from semantic_hashing.retrieval.errors import IndexLost, SemhashError
from semantic_hashing.retrieval.fsutil import atomic_write


def check_codes(codes: np.ndarray, bits: int) -> np.ndarray:
    """`codes` as a contiguous uint8 (N, bits // 8) array, or a user error."""
    codes = np.ascontiguousarray(codes, dtype=np.uint8)
    if codes.ndim != 2 or codes.shape[1] != bits // 8:
        raise SemhashError(
            f"codes of {codes.shape[-1] * 8} bits do not fit an index of {bits} bits."
        )
    return codes


class BinaryIndex:
    def __init__(self, bits: int, index: faiss.IndexBinary | None = None):
        self.bits = bits  # a checked code length: the model's, or a FAISS file's (bytes * 8)
        self.index = index or faiss.IndexBinaryIDMap2(faiss.IndexBinaryFlat(bits))
        _counting_sort_top_k(self.index)

    def __len__(self) -> int:
        return self.index.ntotal

    def _check(self, codes: np.ndarray) -> np.ndarray:
        return check_codes(codes, self.bits)

    def add(self, codes: np.ndarray, ids: np.ndarray) -> None:
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        self.index.add_with_ids(self._check(codes), ids)

    def remove(self, ids: np.ndarray) -> int:
        sel = faiss.IDSelectorBatch(np.ascontiguousarray(ids, dtype=np.int64))
        return int(self.index.remove_ids(sel))

    def reconstruct(self, item_id: int) -> np.ndarray:
        try:
            return self.index.reconstruct(int(item_id))
        except RuntimeError:
            raise SemhashError(f"id {item_id} is not in the index.") from None

    def codes_of(self, ids) -> np.ndarray:
        """Stored codes of `ids` (N, bits // 8) uint8, in that order."""
        out = np.zeros((len(ids), self.bits // 8), dtype=np.uint8)
        for row, item_id in enumerate(np.asarray(ids, dtype=np.int64)):
            out[row] = self.reconstruct(item_id)
        return out

    def ids(self) -> np.ndarray:
        return faiss.vector_to_array(self.index.id_map).astype(np.int64)

    def codes(self) -> np.ndarray:
        """All stored codes (N, bits // 8) uint8, in the order of `ids()`."""
        flat = faiss.downcast_IndexBinary(self.index.index)
        return faiss.vector_to_array(flat.xb).reshape(-1, self.bits // 8)

    def search(self, codes: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-k by Hamming distance: (D int32 (Q, k), I int64 (Q, k))."""
        codes = self._check(codes)
        k = max(1, min(k, len(self))) if len(self) else 1
        D, I = self.index.search(codes, k)
        order = np.lexsort((np.where(I < 0, np.iinfo(np.int64).max, I), D), axis=1)
        return np.take_along_axis(D, order, 1), np.take_along_axis(I, order, 1)

    def range_search(self, codes: np.ndarray, radius: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """All items within Hamming distance <= radius, per query: [(D, I), ...] sorted."""
        codes = self._check(codes)
        lims, D, I = self.index.range_search(codes, radius + 1)  # FAISS keeps d < radius
        out = []
        for q in range(len(codes)):
            d, i = D[lims[q] : lims[q + 1]], I[lims[q] : lims[q + 1]]
            order = np.lexsort((i, d))
            out.append((d[order].astype(np.int32), i[order].astype(np.int64)))
        return out

    def nbytes(self) -> int:
        """Memory of the index: its serialized size."""
        return len(faiss.serialize_index_binary(self.index))

    def close(self) -> None:
        """Nothing to release: the index lives in memory, its file is written by `save`."""

    # -- files --------------------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        data = faiss.serialize_index_binary(self.index)
        atomic_write(Path(path), data.tobytes())

    @classmethod
    def load(cls, path: str | Path) -> BinaryIndex:
        path = Path(path)
        if not path.is_file():
            raise IndexLost(f"the index file {path} is missing.")
        try:
            index = faiss.read_index_binary(str(path))
        except RuntimeError as exc:
            reason = re.sub(r"^Error in .*? at \S+:\d+: ", "", str(exc).strip().splitlines()[0])
            reason = reason.replace("Error: ", "")[:120]
            raise IndexLost(f"the index file {path} is damaged ({reason}).") from None
        return cls(index.d, index)


class FaissStore:
    """Codes in a FAISS file inside the collection (the default code store)."""

    name = "faiss"
    strategies = True  # secondary indexes (hash, ivf, hnsw) are built over this index
    index_class = BinaryIndex
    requires = ("faiss",)

    def entry(self, folder: Path, uri: str | None) -> dict:
        if uri:
            raise SemhashError("--uri applies to the milvus backend only.")
        return {"name": self.name}

    def resolved(self, entry: dict, folder: Path) -> dict:
        return dict(entry)

    def create(self, bits: int, entry: dict) -> BinaryIndex:
        return BinaryIndex(bits)

    def open(self, bits: int, entry: dict, folder: Path, uri: str | None = None,
             write: bool = False) -> BinaryIndex:  # fmt: skip
        if uri:
            raise SemhashError("--uri applies to collections kept in Milvus only.")
        index = BinaryIndex.load(folder / INDEX)
        if not isinstance(faiss.downcast_IndexBinary(index.index), faiss.IndexBinaryIDMap2):
            raise IndexLost(f"the index file {folder / INDEX} is not a semhash code index.")
        return index

    def recreate(self, bits: int, entry: dict, folder: Path) -> BinaryIndex:
        set_aside(folder / INDEX)
        return BinaryIndex(bits)

    def emptied(self, index: BinaryIndex, bits: int, folder: Path) -> BinaryIndex:
        return BinaryIndex(bits)

    def found(self, folder: Path) -> dict | None:
        return {"name": self.name} if (folder / INDEX).exists() else None


def _counting_sort_top_k(index) -> None:
    """A flat scan keeps its top k by counting sort over the few possible distances instead
    of a heap: exact, and about twice as fast at k = 100 (FAISS does not save the flag)."""
    inner = faiss.downcast_IndexBinary(index)
    if isinstance(inner, faiss.IndexBinaryIDMap):
        inner = faiss.downcast_IndexBinary(inner.index)
    if isinstance(inner, faiss.IndexBinaryFlat):
        inner.use_heap = False
