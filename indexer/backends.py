"""Where a collection keeps its codes: a FAISS file (the default) or a Milvus collection.

Both sit behind one small interface, `CodeIndex`; metadata stays in the SQL database
either way. The collection's sidecar records the backend, so `search` finds it again.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Protocol

import faiss
import numpy as np

from semantic_hashing.indexer.binary_index import BinaryIndex
from semantic_hashing.indexer.layout import LITE_FILE
from semantic_hashing.retrieval.errors import IndexLost, SemhashError

BACKENDS = ("faiss", "milvus")


class CodeIndex(Protocol):
    """Packed uint8 codes under the collection's own int64 ids, searched by Hamming."""

    bits: int

    def __len__(self) -> int: ...
    def add(self, codes: np.ndarray, ids: np.ndarray) -> None: ...
    def remove(self, ids: np.ndarray) -> int: ...
    def search(self, codes: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]: ...
    def range_search(self, codes: np.ndarray, radius: int) -> list: ...
    def codes_of(self, ids) -> np.ndarray: ...
    def save(self, path: str | Path) -> None: ...


def backend_info(backend: str, uri: str | None, folder: Path) -> dict:
    """The sidecar entry for a new collection in `folder`."""
    if backend not in BACKENDS:
        raise SemhashError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}.")
    if backend == "faiss":
        if uri:
            raise SemhashError("--uri applies to the milvus backend only.")
        return {"name": "faiss"}
    from semantic_hashing.indexer.milvus_index import collection_name, is_lite

    if not uri:  # the collection's own Lite data, recorded relative: the folder may move
        uri = LITE_FILE
    elif is_lite(uri):
        uri = str(Path(uri).resolve())
    return {"name": "milvus", "uri": uri,
            "collection": collection_name(folder.name, uuid.uuid4().hex[:8])}  # fmt: skip


def resolved_backend(backend: dict | None, folder: Path) -> dict:
    """The sidecar's backend entry with a relative Milvus Lite path made absolute."""
    backend = dict(backend or {"name": "faiss"})
    uri = backend.get("uri")
    if backend["name"] == "milvus" and uri and is_lite_uri(uri) and not Path(uri).is_absolute():
        backend["uri"] = str((folder / uri).resolve())
    return backend


def is_lite_uri(uri: str) -> bool:
    from semantic_hashing.indexer.milvus_index import is_lite

    return is_lite(uri)


def new_code_index(bits: int, backend: dict) -> CodeIndex:
    """An empty index (a Milvus collection is created, or reused when it exists)."""
    if backend["name"] == "faiss":
        return BinaryIndex(bits)
    return _milvus(bits, backend, None, create=True)


def open_code_index(
    bits: int, backend: dict, index_path: Path, uri: str | None = None
) -> CodeIndex:
    """The stored index of a collection; `uri` overrides a Milvus address (moved server).
    Raises `IndexLost` when the codes are gone (file or Milvus collection missing)."""
    if backend["name"] == "faiss":
        if uri:
            raise SemhashError("--uri applies to collections kept in Milvus only.")
        index = BinaryIndex.load(index_path)
        if not isinstance(faiss.downcast_IndexBinary(index.index), faiss.IndexBinaryIDMap2):
            raise IndexLost(f"the index file {index_path} is not a semhash code index.")
        return index
    return _milvus(bits, backend, uri, create=False)


def _milvus(bits: int, backend: dict, uri: str | None, create: bool):
    from semantic_hashing.indexer.milvus_index import MilvusIndex

    return MilvusIndex(bits, uri or backend["uri"], backend["collection"], create=create)


def milvus_collections(uri: str) -> list[str]:
    from semantic_hashing.indexer.milvus_index import list_collections

    return list_collections(uri)
