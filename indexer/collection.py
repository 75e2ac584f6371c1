"""A collection on disk: one folder holding everything needed to search it.

    my.semhash/
      collection.json    sidecar: kind, bits, model fingerprint, counts, versions
      model.pt           the encoder (config, weights, thresholds, vocabulary)
      codes.index        FAISS IndexBinaryIDMap2, ids = metadata ids (faiss backend)
      codes.<s>.index    secondary index of search strategy <s> (hash, ivf, hnsw) + .json
      milvus.db          Milvus Lite file (milvus backend without a server URI)
      metadata.sqlite    item rows (unless another SQLAlchemy URL was given)
      raw.npy            model-size input of every item, row = id (raw baselines)
      index.log          what each indexing run did and skipped

Opening checks that the model, the index and the sidecar belong together, so codes from
two different models are never mixed.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import faiss
import numpy as np
import torch

from indexer.backends import CodeIndex, backend_info, new_code_index, open_code_index
from indexer.metadata import MetadataStore
from indexer.strategies import StrategyParams, default_strategy, open_secondary
from retrieval import __version__
from retrieval.codes import HashEncoder
from retrieval.errors import SemhashError
from retrieval.fsutil import atomic_write

log = logging.getLogger(__name__)

FORMAT = 1
SIDECAR, MODEL, INDEX, DB, RAW, LOG = (
    "collection.json", "model.pt", "codes.index", "metadata.sqlite", "raw.npy", "index.log",
)  # fmt: skip


def default_db_url(path: Path) -> str:
    return f"sqlite:///{(path / DB).resolve()}"


@dataclass
class Collection:
    path: Path
    info: dict
    encoder: HashEncoder
    index: CodeIndex
    meta: MetadataStore
    _raw: np.ndarray | None = field(default=None, repr=False)

    @property
    def kind(self) -> str:
        return self.info["kind"]

    @property
    def backend(self) -> str:
        return (self.info.get("backend") or {"name": "faiss"})["name"]

    @property
    def bits(self) -> int:
        return self.info["bits"]

    # -- create / open ------------------------------------------------------------------
    @classmethod
    def create(
        cls, path: str | Path, encoder: HashEncoder, db_url: str | None = None,
        backend: str = "faiss", uri: str | None = None,
    ):  # fmt: skip
        path = Path(path)
        if (path / SIDECAR).exists():
            raise SemhashError(f"{path} already holds a collection.")
        if path.exists() and any(path.iterdir()):
            raise SemhashError(f"{path} exists and is not an empty folder or a collection.")
        path.mkdir(parents=True, exist_ok=True)
        info = {
            "format": FORMAT,
            "kind": encoder.config.kind,
            "bits": encoder.bits,
            "model_type": encoder.config.model_type,
            "model_fingerprint": encoder.fingerprint(),
            "db_url": db_url or "",
            "backend": backend_info(backend, uri, path),
            "count": 0,
            "created_at": _now(),
        }
        encoder.save(path / MODEL)
        coll = cls(
            path,
            info,
            encoder,
            new_code_index(encoder.bits, info["backend"]),
            MetadataStore(db_url or default_db_url(path)),
        )
        coll.save()
        return coll

    @classmethod
    def open(
        cls, path: str | Path, device: torch.device | str = "cpu", uri: str | None = None
    ) -> Collection:
        path = Path(path)
        if not (path / SIDECAR).is_file():
            raise SemhashError(f"{path} is not a semhash collection (no {SIDECAR}).")
        try:
            info = json.loads((path / SIDECAR).read_text())
        except (OSError, ValueError) as exc:
            raise SemhashError(f"cannot read {path / SIDECAR} ({exc}).") from None
        encoder = HashEncoder.load(path / MODEL, device)
        if encoder.fingerprint() != info["model_fingerprint"]:
            raise SemhashError(
                f"the model in {path} does not match the one its codes were made with."
            )
        backend = info.get("backend") or {"name": "faiss"}
        index = open_code_index(info["bits"], backend, path / INDEX, uri)
        if index.bits != info["bits"]:
            raise SemhashError(
                f"the index in {path} holds {index.bits}-bit codes, not {info['bits']}."
            )
        meta = MetadataStore(info.get("db_url") or default_db_url(path))
        return cls(path, info, encoder, index, meta)

    def check_model(self, encoder: HashEncoder) -> None:
        """Refuse an encoder whose codes would not be comparable with the stored ones."""
        if encoder.bits != self.bits:
            raise SemhashError(
                f"the model makes {encoder.bits}-bit codes "
                f"but {self.path} holds {self.bits}-bit codes."
            )
        if encoder.fingerprint() != self.info["model_fingerprint"]:
            raise SemhashError(
                f"{self.path} was built with another model; use its own model or rebuild it."
            )

    # -- contents -----------------------------------------------------------------------
    def add(self, ids: np.ndarray, codes: np.ndarray, raw: np.ndarray, rows: list[dict]) -> None:
        """Append items: codes and raw inputs first (files), then the metadata rows."""
        self.index.add(codes, ids)
        flat = raw.reshape(len(raw), -1)
        old = self.raw()
        expected = 0 if old is None else len(old)
        if len(ids) and (ids.min() != expected or ids.max() != expected + len(ids) - 1):
            raise ValueError("raw rows must follow the ids")
        self._raw = flat if old is None else np.concatenate([old, flat])
        self.index.save(self.path / INDEX)
        _save_npy(self.path / RAW, self._raw)
        self.meta.add(rows)
        self.info["count"] = len(self.index)
        self.save()

    def search_index(self, strategy: str | None = None, params: StrategyParams | None = None):
        """The index that answers queries with `strategy` (default: by collection size);
        secondary indexes live beside the primary one and are rebuilt when stale."""
        if self.backend != "faiss":
            if strategy not in (None, "flat"):
                raise SemhashError(
                    f"{self.path} keeps its codes in {self.backend}; --strategy applies to "
                    "collections kept in FAISS."
                )
            return self.index
        strategy = strategy or default_strategy(len(self.index))
        return open_secondary(self.path, strategy, self.index, params or StrategyParams())

    def raw(self) -> np.ndarray | None:
        """Model-size inputs of all items (row = id), memory-mapped."""
        if self._raw is None and (self.path / RAW).exists():
            self._raw = np.load(self.path / RAW, mmap_mode="r")
        return self._raw

    def save(self) -> None:
        self.info["updated_at"] = _now()
        self.info["versions"] = {
            "semhash": __version__,
            "faiss": faiss.__version__,
            "torch": str(torch.__version__),
        }
        if self.backend == "faiss" and not (self.path / INDEX).exists():
            self.index.save(self.path / INDEX)
        atomic_write(self.path / SIDECAR, json.dumps(self.info, indent=2).encode())

    def log_event(self, text: str) -> None:
        with open(self.path / LOG, "a", encoding="utf-8") as fh:
            fh.write(f"{_now()} {text}\n")

    def close(self) -> None:
        self.meta.close()
        if hasattr(self.index, "close"):
            self.index.close()


def _save_npy(path: Path, arr: np.ndarray) -> None:
    import io

    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(arr))
    atomic_write(path, buf.getvalue())


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
