"""Codes kept in Milvus instead of a FAISS file, behind the same small interface.

Against a Milvus server (an http(s):// or tcp:// URI) codes are BINARY_VECTOR fields
searched with the HAMMING metric (BIN_FLAT, or BIN_IVF_FLAT). Milvus Lite (a local file path
as URI) has no binary vectors, so each code is stored as a +-1 float vector and searched by
inner product: for b-bit codes, Hamming = (b - IP) / 2. Distances are reported as Hamming
either way, and rows are sorted by (distance, id) like the FAISS index. `MilvusStore` is
the code store registered for it: pymilvus is imported only when a collection is created or
opened in Milvus.
"""

from __future__ import annotations

import fcntl
import functools
import logging
import os
import re
import uuid
from pathlib import Path

import numpy as np

from semantic_hashing.indexer.layout import LITE_FILE, set_aside
from semantic_hashing.retrieval.errors import IndexLost, SemhashError, Unavailable

log = logging.getLogger(__name__)
QUIET = "pymilvus.client.iterator.query_iterator"  # warns on every iterator over Milvus Lite

MAX_TOPK = 16384  # Milvus's largest limit per search
BATCH = 5000
SERVER = re.compile(r"^(https?|tcp|grpcs?|unix)://")
TIMEOUT = 20.0  # seconds: connecting, loading, and each call


class MilvusBusy(SemhashError):
    """Milvus Lite data held open by another process."""


def _reason(exc: Exception | None) -> str:
    text = str(getattr(exc, "message", None) or exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__


def locked(path: Path) -> bool:
    """True when another process holds an flock on `path` (Milvus Lite's LOCK). The Lite
    server that pymilvus starts for this process (a child) does not count."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return False
    except OSError:
        return not _held_by_child(path)
    finally:
        os.close(fd)


def _held_by_child(path: Path) -> bool:
    """True when every flock holder of `path` is this process or a child of it (Linux)."""
    me = os.getpid()
    try:
        st = os.stat(path)
        want = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
        with open("/proc/locks") as fh:
            pids = {int(f[4]) for f in (line.split() for line in fh) if f[5] == want}
        return bool(pids) and all(pid == me or _parent(pid) == me for pid in pids)
    except (OSError, ValueError, IndexError):
        return False


def _parent(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as fh:
        return int(fh.read().rsplit(")", 1)[1].split()[1])


def _guarded(method):
    """Milvus errors of a call (a server gone down, a damaged Lite file) as one sentence."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except SemhashError:
            raise
        except Exception as exc:
            raise Unavailable(f"Milvus at {self.uri} failed on the collection {self.name} "
                              f"({_reason(exc)}).") from None  # fmt: skip

    return wrapper


def list_collections(uri: str) -> list[str]:
    """Names of the collections at `uri` ([] when it cannot be read)."""
    try:
        from pymilvus import MilvusClient

        client = MilvusClient(uri, timeout=TIMEOUT)
        try:
            return list(client.list_collections())
        finally:
            client.close()
    except Exception:
        return []


def is_lite(uri: str) -> bool:
    return not SERVER.match(uri)


def collection_name(stem: str, tag: str) -> str:
    """A valid Milvus collection name from a folder name and a short unique tag."""
    clean = re.sub(r"[^0-9a-zA-Z_]", "_", stem)[:40]
    return f"semhash_{clean}_{tag}"


class MilvusIndex:
    """A Milvus collection of (int64 id, code) rows. Searches use the collection's Strong
    consistency (every committed write is seen) unless `consistency` names another level."""

    consistency: str | None = None

    def __init__(self, bits: int, uri: str, name: str, index_type: str = "flat", nlist=1024,
                 create: bool = True):  # fmt: skip
        """Open (and load) the collection `name` at `uri`; create it when missing and
        `create`, else raise `IndexLost`. Every call waits at most TIMEOUT seconds."""
        try:
            from pymilvus import MilvusClient
        except ImportError:
            raise SemhashError(
                "the milvus backend needs pymilvus: pip install 'semantic-hashing[milvus]'."
            ) from None
        # after pymilvus set up its loggers: its errors reach the caller as one sentence
        logging.getLogger(QUIET).setLevel(logging.ERROR)
        for noisy in ("pymilvus", "milvus_lite"):
            logging.getLogger(noisy).setLevel(logging.CRITICAL)
        self.bits, self.uri, self.name, self.lite = bits, uri, name, is_lite(uri)
        if self.lite and not create and not Path(uri).exists():
            raise IndexLost(f"the Milvus Lite data {uri} does not exist.")
        if self.lite:
            Path(uri).parent.mkdir(parents=True, exist_ok=True)
            if locked(Path(uri) / "LOCK"):
                raise MilvusBusy(self._unreachable(None))
        try:
            self.client = MilvusClient(uri, timeout=TIMEOUT)
        except Exception as exc:  # pymilvus raises many types for an unreachable server
            raise SemhashError(self._unreachable(exc)) from None
        try:
            if not self.client.has_collection(name, timeout=TIMEOUT):
                if not create:
                    raise IndexLost(f"the Milvus at {uri} holds no collection {name}.")
                self._create(index_type, nlist)
            self._load()
        except SemhashError:
            self.client.close()
            raise
        except Exception as exc:
            self.client.close()
            raise SemhashError(f"cannot use the Milvus collection {name} at {uri} "
                               f"({_reason(exc)}).") from None  # fmt: skip

    def _unreachable(self, exc: Exception | None) -> str:
        if self.lite and locked(Path(self.uri) / "LOCK"):
            return (f"the Milvus Lite data {self.uri} is in use by another process (Milvus Lite "
                    "serves one process at a time); try again when it has finished, or keep "
                    "the codes on a Milvus server.")  # fmt: skip
        if self.lite:
            return f"cannot open the Milvus Lite data {self.uri} ({_reason(exc)})."
        return (f"cannot reach the Milvus server at {self.uri} within {TIMEOUT:.0f} s "
                f"({_reason(exc)}); is it running?")  # fmt: skip

    def _load(self) -> None:
        """A collection is searchable only once loaded; a new process finds it released."""
        state = self.client.get_load_state(self.name, timeout=TIMEOUT).get("state")
        if "Loaded" not in str(state) or "NotLoad" in str(state):
            self.client.load_collection(self.name, timeout=TIMEOUT)

    def _create(self, index_type: str, nlist: int) -> None:
        from pymilvus import DataType

        schema = self.client.create_schema(auto_id=False)
        schema.add_field("id", DataType.INT64, is_primary=True)
        params = self.client.prepare_index_params()
        if self.lite:
            schema.add_field("code", DataType.FLOAT_VECTOR, dim=self.bits)
            params.add_index("code", index_type="FLAT", metric_type="IP")
        else:
            schema.add_field("code", DataType.BINARY_VECTOR, dim=self.bits)
            kind = "BIN_IVF_FLAT" if index_type == "ivf" else "BIN_FLAT"
            extra = {"nlist": nlist} if index_type == "ivf" else {}
            params.add_index("code", index_type=kind, metric_type="HAMMING", params=extra)
        self.client.create_collection(
            self.name, schema=schema, index_params=params, consistency_level="Strong"
        )
        log.info("created Milvus collection %s at %s", self.name, self.uri)

    # -- the shared interface ---------------------------------------------------------------
    @_guarded
    def __len__(self) -> int:
        rows = self.client.query(self.name, filter="", output_fields=["count(*)"])
        return int(rows[0]["count(*)"])

    def _vectors(self, codes: np.ndarray) -> list:
        codes = np.ascontiguousarray(codes, dtype=np.uint8)
        if codes.ndim != 2 or codes.shape[1] != self.bits // 8:
            raise SemhashError(
                f"codes of {codes.shape[-1] * 8} bits do not fit an index of {self.bits} bits."
            )
        if not self.lite:
            return [row.tobytes() for row in codes]
        return (np.unpackbits(codes, axis=1).astype(np.float32) * 2 - 1).tolist()

    @_guarded
    def add(self, codes: np.ndarray, ids: np.ndarray) -> None:
        vectors, ids = self._vectors(codes), np.asarray(ids, dtype=np.int64)
        if len(vectors) != len(ids):
            raise ValueError("one id per code")
        rows = [{"id": int(i), "code": v} for i, v in zip(ids, vectors, strict=True)]
        for start in range(0, len(rows), BATCH):
            self.client.insert(self.name, rows[start : start + BATCH])

    def _rows(self, filter: str = "id >= 0"):
        it = self.client.query_iterator(self.name, batch_size=BATCH, filter=filter,
                                        output_fields=["id", "code"])  # fmt: skip
        try:
            while batch := it.next():
                yield from batch
        finally:
            it.close()

    def _unpack(self, vectors: list) -> np.ndarray:
        if not vectors:
            return np.zeros((0, self.bits // 8), dtype=np.uint8)
        if self.lite:
            return np.packbits(np.asarray(vectors, dtype=np.float32) > 0, axis=1)
        raw = b"".join(bytes(v[0] if isinstance(v, list) else v) for v in vectors)
        return np.frombuffer(raw, np.uint8).reshape(len(vectors), -1)

    @_guarded
    def ids(self) -> np.ndarray:
        """Every stored id, ascending."""
        return np.sort(np.array([int(r["id"]) for r in self._rows()], dtype=np.int64))

    @_guarded
    def codes(self) -> np.ndarray:
        """All stored codes (N, bits // 8) uint8, in the order of `ids()`."""
        rows = sorted(self._rows(), key=lambda r: int(r["id"]))
        return self._unpack([r["code"] for r in rows])

    @_guarded
    def codes_of(self, ids) -> np.ndarray:
        """Stored codes of `ids` (N, bits // 8) uint8, in that order."""
        ids = [int(i) for i in ids]
        found = {}
        for start in range(0, len(ids), 1000):  # ids per filter expression
            part = ", ".join(map(str, ids[start : start + 1000]))
            found.update((int(r["id"]), r["code"]) for r in self._rows(f"id in [{part}]"))
        missing = [i for i in ids if i not in found]
        if missing:
            raise SemhashError(f"id {missing[0]} is not in the index.")
        return self._unpack([found[i] for i in ids])

    @_guarded
    def reconstruct(self, item_id: int) -> np.ndarray:
        rows = list(self._rows(f"id == {int(item_id)}"))
        if not rows:
            raise SemhashError(f"id {item_id} is not in the index.")
        return self._unpack([rows[0]["code"]])[0]

    @_guarded
    def remove(self, ids: np.ndarray) -> int:
        res = self.client.delete(self.name, ids=[int(i) for i in ids])
        return int(res.get("delete_count", 0)) if isinstance(res, dict) else len(ids)

    @_guarded
    def search(self, codes: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-k by Hamming distance: (D int32 (Q, k'), I int64 (Q, k')), k' = min(k, N) like
        FAISS (one Milvus call: no count first), -1 where missing."""
        hits = self._search(codes, max(1, min(k, MAX_TOPK)))
        k = max([len(row) for row in hits] + [1])
        D = np.full((len(codes), k), np.iinfo(np.int32).max, dtype=np.int32)
        I = np.full((len(codes), k), -1, dtype=np.int64)
        for q, row in enumerate(hits):
            row = sorted(row)[:k]
            D[q, : len(row)] = [d for d, _ in row]
            I[q, : len(row)] = [i for _, i in row]
        return D, I

    @_guarded
    def range_search(self, codes: np.ndarray, radius: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """Items within Hamming distance <= radius (at most 16,384 per query), sorted."""
        n = min(len(self), MAX_TOPK)
        out = []
        for row in self._search(codes, n) if n else [[] for _ in range(len(codes))]:
            row = sorted((d, i) for d, i in row if d <= radius)
            out.append((np.array([d for d, _ in row], np.int32),
                        np.array([i for _, i in row], np.int64)))  # fmt: skip
        return out

    def _search(self, codes: np.ndarray, k: int) -> list[list[tuple[int, int]]]:
        metric = "IP" if self.lite else "HAMMING"
        extra = {"consistency_level": self.consistency} if self.consistency else {}
        res = self.client.search(
            self.name, data=self._vectors(codes), limit=k, anns_field="code",
            search_params={"metric_type": metric}, output_fields=["id"], **extra,
        )  # fmt: skip
        return [[(self._hamming(h["distance"]), int(h["id"])) for h in row] for row in res]

    def _hamming(self, distance: float) -> int:
        return int(round((self.bits - distance) / 2)) if self.lite else int(round(distance))

    @_guarded
    def save(self, path: str | Path | None = None) -> None:
        """Nothing to write beside the collection: Milvus keeps the codes (flushed here)."""
        self.client.flush(self.name)

    def close(self) -> None:
        self.client.close()


class MilvusStore:
    """Codes in a Milvus collection: on a server (--uri http://...) or in Milvus Lite (a
    file; by default `milvus.db` inside the collection, recorded relative to it)."""

    name = "milvus"
    strategies = False  # Milvus searches its own index; no FAISS secondary index
    index_class = MilvusIndex
    requires = ("pymilvus",)  # the milvus extra

    def entry(self, folder: Path, uri: str | None) -> dict:
        if not uri:  # the collection's own Lite data, recorded relative: the folder may move
            uri = LITE_FILE
        elif is_lite(uri):
            uri = str(Path(uri).resolve())
        return {"name": self.name, "uri": uri,
                "collection": collection_name(folder.name, uuid.uuid4().hex[:8])}  # fmt: skip

    def resolved(self, entry: dict, folder: Path) -> dict:
        entry, uri = dict(entry), entry.get("uri")
        if uri and is_lite(uri) and not Path(uri).is_absolute():
            entry["uri"] = str((folder / uri).resolve())
        return entry

    def create(self, bits: int, entry: dict) -> MilvusIndex:
        return MilvusIndex(bits, entry["uri"], entry["collection"], create=True)

    def open(self, bits: int, entry: dict, folder: Path, uri: str | None = None,
             write: bool = False) -> MilvusIndex:  # fmt: skip
        try:
            return MilvusIndex(bits, uri or entry["uri"], entry["collection"], create=False)
        except IndexLost:
            raise
        except MilvusBusy:
            raise
        except SemhashError as exc:
            if not _own_lite(entry, folder):
                raise
            if not write:
                raise SemhashError(f"{exc} `semhash check --repair {folder}` rebuilds the codes "
                                   "from the model and stored inputs.") from None  # fmt: skip
            if uri:
                raise
            raise IndexLost(f"the Milvus Lite data {folder / LITE_FILE} cannot be read.") from None

    def recreate(self, bits: int, entry: dict, folder: Path) -> MilvusIndex:
        if _own_lite(entry, folder):
            try:
                return self.create(bits, entry)
            except SemhashError:
                set_aside(folder / LITE_FILE)
        return self.create(bits, entry)

    def emptied(self, index: MilvusIndex, bits: int, folder: Path) -> MilvusIndex:
        if bits != index.bits:
            raise SemhashError(
                f"{folder} keeps {index.bits}-bit codes in Milvus; "
                "a model of another code length needs a new collection."
            )
        index.remove(index.ids())
        return index

    def found(self, folder: Path) -> dict | None:
        """The collection's own Milvus Lite data holding exactly one collection of its name."""
        lite = folder / LITE_FILE
        if not lite.exists():
            return None
        prefix = collection_name(folder.name, "")
        names = [n for n in list_collections(str(lite.resolve())) if n.startswith(prefix)]
        if len(names) != 1:
            return None
        return {"name": self.name, "uri": LITE_FILE, "collection": names[0]}


def _own_lite(entry: dict, folder: Path) -> bool:
    """True when the (resolved) entry keeps the codes in the collection's own Lite file."""
    return entry.get("uri") == str((folder / LITE_FILE).resolve())
