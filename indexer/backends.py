"""Where a collection keeps its codes: a code store, chosen by name from `CODE_STORES`.

A code store (`CodeStore`) knows how to record a new collection's codes in the sidecar
(`entry`), create them, open them again, empty them for another model, and find them when
the sidecar is lost. What it opens is a `CodeIndex`: packed codes under the collection's own
int64 ids, searched by Hamming distance. Metadata stays in the SQL database either way.

Adding a code store takes one module (its `CodeIndex` and `CodeStore` classes), its test,
and its line in `CODE_STORES`; nothing else asks for a store by name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np

from semantic_hashing.indexer.binary_index import FaissStore
from semantic_hashing.indexer.milvus_index import MilvusStore
from semantic_hashing.retrieval.errors import SemhashError


class CodeIndex(Protocol):
    """Packed uint8 codes (N, bits // 8) under the collection's own int64 ids. Every search
    returns exact Hamming distances, each row sorted by (distance, id)."""

    bits: int

    def __len__(self) -> int:
        """The number of stored codes."""

    def add(self, codes: np.ndarray, ids: np.ndarray) -> None:
        """Store `codes` under `ids` (one id per code row)."""

    def remove(self, ids: np.ndarray) -> int:
        """Drop the codes of `ids`; returns how many were removed."""

    def search(self, codes: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-k per query: (D int32 (Q, k'), I int64 (Q, k')), -1 ids where missing."""

    def range_search(self, codes: np.ndarray, radius: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """Every item within Hamming distance <= radius, per query: [(D, I), ...]."""

    def reconstruct(self, item_id: int) -> np.ndarray:
        """The stored code of one id (bits // 8 uint8); SemhashError when absent."""

    def codes_of(self, ids) -> np.ndarray:
        """Stored codes of `ids` (N, bits // 8) uint8, in that order."""

    def ids(self) -> np.ndarray:
        """Every stored id (int64)."""

    def codes(self) -> np.ndarray:
        """All stored codes (N, bits // 8) uint8, in the order of `ids()`."""

    def save(self, path: str | Path) -> None:
        """Make the codes durable (`path`: the collection's index file, where one is kept)."""

    def close(self) -> None:
        """Release connections and files; the index is not used afterwards."""


class CodeStore(Protocol):
    """One kind of code store, as registered in `CODE_STORES` under its `name`."""

    name: str  # recorded in the sidecar's "backend" entry and given to --backend
    strategies: bool  # whether search strategies (FAISS secondary indexes) apply to its codes
    index_class: type  # the class of its `CodeIndex`
    requires: tuple[str, ...]  # the Python packages it imports when used

    def entry(self, folder: Path, uri: str | None) -> dict:
        """The sidecar's backend entry for a new collection in `folder` (`uri`: --uri)."""

    def resolved(self, entry: dict, folder: Path) -> dict:
        """The sidecar entry with what it records relative to `folder` made absolute."""

    def create(self, bits: int, entry: dict) -> CodeIndex:
        """An empty index for a resolved entry (existing data of that entry is reused)."""

    def open(self, bits: int, entry: dict, folder: Path, uri: str | None = None,
             write: bool = False) -> CodeIndex:  # fmt: skip
        """The stored index of the collection in `folder`; `uri` overrides where it lives (a
        moved server). Raises `IndexLost` when the codes are gone (and, opening for
        `write`, when they cannot be read: the caller rebuilds them)."""

    def recreate(self, bits: int, entry: dict, folder: Path) -> CodeIndex:
        """An empty index in place of a lost one (damaged data set aside first)."""

    def emptied(self, index: CodeIndex, bits: int, folder: Path) -> CodeIndex:
        """An empty index for codes of `bits` bits in place of `index` (another model)."""

    def found(self, folder: Path) -> dict | None:
        """The backend entry of the codes `folder` holds when its sidecar is lost, or None
        when none of this store's data is there."""


CODE_STORES: dict[str, CodeStore] = {s.name: s for s in (FaissStore(), MilvusStore())}
DEFAULT_STORE = FaissStore.name


def code_store(name: str | None) -> CodeStore:
    """The registered store called `name` (None: the default one)."""
    store = CODE_STORES.get(name or DEFAULT_STORE)
    if store is None:
        raise SemhashError(f"unknown backend {name!r}; choose one of {', '.join(CODE_STORES)}.")
    return store


def store_of(entry: dict | None) -> CodeStore:
    """The store a sidecar's backend entry names (collections older than the entry: the
    default store)."""
    return code_store((entry or {}).get("name"))


def recovered_entry(folder: Path) -> dict:
    """The backend entry of a collection whose sidecar is lost: the first store that finds
    its data in `folder`, else a new entry of the default store."""
    for store in CODE_STORES.values():
        if (entry := store.found(folder)) is not None:
            return entry
    return code_store(None).entry(folder, None)
