"""What a Milvus deployment costs per query: the embedded Milvus server (BIN_FLAT, HAMMING)
next to FAISS's exact flat scan on the same Fashion-MNIST codes as `semhash bench-scale`.

Both answer the same seeded test queries one at a time (k = 100). Latency is the wall time
of one call as the application sees it (for Milvus that includes the gRPC round trip on
loopback), for Milvus at the Strong consistency semhash searches with (each search waits
for the server's time tick) and at Eventually (no wait: writes of the last moments may be
missed); recall is tie-aware against the exact k-th distance, and `same_distances` says
whether Milvus returned exactly FAISS's distances.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from semantic_hashing.bench.scale import (
    K,
    ScaleOptions,
    _latency,
    make_workload,
    tie_aware_recall,
    timed_search,
)
from semantic_hashing.indexer.milvus_embedded import EmbeddedMilvus
from semantic_hashing.indexer.milvus_index import MilvusIndex
from semantic_hashing.indexer.strategies import StrategyParams, build
from semantic_hashing.retrieval.errors import SemhashError
from semantic_hashing.retrieval.fsutil import atomic_write

log = logging.getLogger(__name__)


@dataclass
class MilvusBenchOptions:
    out: Path = Path("milvus-bench")
    sizes: tuple[int, ...] = (60_000, 1_000_000)
    model: Path | None = None
    epochs: int = 2
    n_queries: int = 200
    uri: str | None = None  # a running Milvus server; else the embedded one is started
    encode_budget_s: float = 60.0
    collection: Path | None = None  # take the codes of this collection instead
    seed: int = 0


def run_milvus_bench(opts: MilvusBenchOptions) -> dict:
    if not opts.sizes or min(opts.sizes) < K:
        raise SemhashError(f"every size must hold at least k = {K} codes.")
    if not 1 <= opts.n_queries <= 10_000:
        raise SemhashError("--queries must be from 1 to 10,000.")
    start = time.perf_counter()
    if opts.collection is not None:
        return _on_collection(opts, start)
    scale = ScaleOptions(out=opts.out, sizes=opts.sizes, model=opts.model, epochs=opts.epochs,
                         n_queries=opts.n_queries, calib_queries=1,
                         encode_budget_s=opts.encode_budget_s)  # fmt: skip
    opts.out.mkdir(parents=True, exist_ok=True)
    work = make_workload(scale)
    server = None if opts.uri else EmbeddedMilvus().start()
    try:
        uri = opts.uri or server.uri
        rows = [measure(work.codes[:n], work.q_codes, uri) for n in opts.sizes]
    finally:
        if server is not None:
            server.stop()
    report = {"uri": "embedded Milvus 2.3.5 server" if server else opts.uri, "k": K,
              "queries": opts.n_queries, "rows": rows, "workload": work.info,
              "wall_s": time.perf_counter() - start}  # fmt: skip
    atomic_write(opts.out / "milvus-report.json", json.dumps(report, indent=2).encode())
    return report


def collection_codes(path: Path) -> np.ndarray:
    """The codes of a collection's live items, by id."""
    from semantic_hashing.indexer.store import Store

    with Store.open(path) as store:
        ids, codes = store.index.ids(), store.index.codes()
    return np.ascontiguousarray(codes[np.argsort(ids)], dtype=np.uint8)


def _on_collection(opts: MilvusBenchOptions, start: float) -> dict:
    """`measure` on one collection's codes, the queries the codes of seeded items of it."""
    codes = collection_codes(opts.collection)
    if len(codes) < K:
        raise SemhashError(f"{opts.collection} holds {len(codes)} items; the bench needs {K}.")
    rng = np.random.default_rng(opts.seed)
    queries = codes[rng.choice(len(codes), min(opts.n_queries, len(codes)), replace=False)]
    server = None if opts.uri else EmbeddedMilvus().start()
    try:
        row = measure(codes, queries, opts.uri or server.uri)
    finally:
        if server is not None:
            server.stop()
    row["milvus"]["insert_per_s"] = round(len(codes) / max(row["milvus"]["insert_s"], 1e-9))
    report = {"uri": "embedded Milvus 2.3.5 server" if server else opts.uri, "k": K,
              "queries": len(queries), "rows": [row], "collection": str(opts.collection),
              "wall_s": time.perf_counter() - start}  # fmt: skip
    opts.out.mkdir(parents=True, exist_ok=True)
    atomic_write(opts.out / "milvus-report.json", json.dumps(report, indent=2).encode())
    return report


def measure(codes: np.ndarray, queries: np.ndarray, uri: str) -> dict:
    n, bits = len(codes), codes.shape[1] * 8
    flat = build("flat", bits, codes, np.arange(n), StrategyParams())
    Df, _, lat_f = timed_search(flat, queries)
    kth = Df[:, K - 1]
    name = f"semhash_bench_{n}_{int(time.time())}"
    milvus = MilvusIndex(bits, uri, name)
    try:
        t0 = time.perf_counter()
        milvus.add(codes, np.arange(n))
        milvus.save()
        load_s = time.perf_counter() - t0
        log.info("milvus: %d codes inserted and flushed in %.1f s", n, load_s)
        milvus.search(queries[:5], K)  # warm up
        Dm, _, lat_m = timed_search(milvus, queries)
        milvus.consistency = "Eventually"  # no wait for the server's time tick
        De, _, lat_e = timed_search(milvus, queries)
    finally:
        milvus.client.drop_collection(name)
        milvus.close()
    return {"n": n, "faiss_flat": {**_latency(lat_f), "recall": tie_aware_recall(Df, kth)},
            "milvus": {**_latency(lat_m), "recall": tie_aware_recall(Dm, kth),
                       "insert_s": round(load_s, 1)},
            "milvus_eventually": {**_latency(lat_e), "recall": tie_aware_recall(De, kth)},
            "same_distances": bool(np.array_equal(Dm, Df) and np.array_equal(De, Df))}  # fmt: skip


def as_table(report: dict) -> str:
    lines = [f"{'N':>10}  {'index':<14}  {'p50 ms':>8}  {'p99 ms':>8}  {'recall@100':>10}"]
    for row in report["rows"]:
        for key, label in (("faiss_flat", "FAISS flat"), ("milvus", "Milvus Strong"),
                           ("milvus_eventually", "Milvus Eventu.")):  # fmt: skip
            m = row[key]
            lines.append(f"{row['n']:>10,}  {label:<14}  {m['ms_p50']:>8.2f}  {m['ms_p99']:>8.2f}"
                         f"  {m['recall']:>10.3f}")  # fmt: skip
        lines.append(f"{'':>10}  same distances: {row['same_distances']}, "
                     f"Milvus insert + flush {row['milvus']['insert_s']} s")  # fmt: skip
    return "\n".join(lines)
