"""How fast `semhash serve` answers, against the one-shot `semhash search` command.

The installed `semhash serve` runs as its own process on a free loopback port; a client
uploads 28x28 PNGs (seeded sample of the collection's own files) for the top 10: first
sequentially on one keep-alive connection, then from concurrent clients (bounded loops,
one connection each); then `semhash search --query FILE` runs a few times, start-up
included. Latencies are end-to-end as a client sees them.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import random
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from semantic_hashing.query.options import DEFAULT_K
from semantic_hashing.retrieval.errors import SemhashError

log = logging.getLogger(__name__)
TARGETS = {"p50_ms": 20.0, "p99_ms": 100.0, "throughput_rps": 100.0, "speedup": 100.0}


@dataclass
class ServeBenchOptions:
    collection: Path
    requests: int = 1000  # sequential requests
    clients: int = 8
    concurrent_requests: int = 1000  # in all, split between the clients
    cli_runs: int = 5
    k: int = DEFAULT_K
    seed: int = 0
    out: Path | None = None


@dataclass
class ServeBenchReport:
    collection: str
    items: int
    sequential: dict
    concurrent: dict
    cli: dict
    speedup: float
    load: dict
    targets: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


def semhash_exe() -> str:
    exe = Path(sys.executable).parent / "semhash"
    return str(exe) if exe.exists() else shutil.which("semhash") or "semhash"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def multipart(png: bytes, k: int) -> tuple[bytes, str]:
    """A multipart body uploading `png` as `image` with field k."""
    b = uuid.uuid4().hex
    head = (f'--{b}\r\nContent-Disposition: form-data; name="k"\r\n\r\n{k}\r\n'
            f'--{b}\r\nContent-Disposition: form-data; name="image"; filename="q.png"\r\n'
            "Content-Type: image/png\r\n\r\n")  # fmt: skip
    body = head.encode() + png + f"\r\n--{b}--\r\n".encode()
    return body, f"multipart/form-data; boundary={b}"


class Client:
    """One keep-alive HTTP connection posting searches; returns each latency in ms."""

    def __init__(self, port: int, name: str):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.path = f"/api/collections/{name}/search"

    def search(self, body: bytes, ctype: str) -> float:
        start = time.perf_counter()
        self.conn.request("POST", self.path, body, {"Content-Type": ctype})
        resp = self.conn.getresponse()
        data = resp.read()
        ms = (time.perf_counter() - start) * 1000
        if resp.status != 200:
            raise SemhashError(f"the server answered {resp.status}: {data[:200]!r}")
        if len(json.loads(data)["results"]) == 0:
            raise SemhashError("the server answered no results.")
        return ms

    def close(self) -> None:
        self.conn.close()


def stats(ms: list[float], wall_s: float) -> dict:
    a = np.asarray(ms)
    return {"requests": len(a), "p50_ms": round(float(np.percentile(a, 50)), 2),
            "p99_ms": round(float(np.percentile(a, 99)), 2),
            "mean_ms": round(float(a.mean()), 2), "max_ms": round(float(a.max()), 2),
            "wall_s": round(wall_s, 2), "throughput_rps": round(len(a) / wall_s, 1)}  # fmt: skip


def start_server(collection: Path, port: int, log_file: Path | None = None,
                 workers: int = 1) -> subprocess.Popen:  # fmt: skip
    """`semhash serve` as its own process (with `workers` processes answering), once it
    accepts connections: quiet, or with its log (stdout and stderr) written to `log_file`."""
    cmd = [semhash_exe(), "serve", str(collection), "--port", str(port), "--workers", str(workers)]
    if log_file is None:
        proc = subprocess.Popen([*cmd, "-q"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    else:
        with open(log_file, "wb") as out:
            proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            said = log_file.read_bytes() if log_file else proc.stderr.read()
            raise SemhashError(f"semhash serve stopped: {said.decode(errors='replace')[-500:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise SemhashError("semhash serve did not start within 180 s.")


def sequential(port, name, bodies, n) -> dict:
    client = Client(port, name)
    try:
        for body in bodies[:20]:  # warm-up: first requests load lazily
            client.search(*body)
        start = time.perf_counter()
        ms = [client.search(*bodies[i % len(bodies)]) for i in range(n)]
        return stats(ms, time.perf_counter() - start)
    finally:
        client.close()


def concurrent(port, name, bodies, clients, total) -> dict:
    per = [total // clients + (i < total % clients) for i in range(clients)]
    results: list[list[float]] = [[] for _ in range(clients)]
    errors: list[Exception] = []
    gate = threading.Barrier(clients + 1)

    def work(i):
        client = Client(port, name)
        try:
            gate.wait()
            for j in range(per[i]):
                results[i].append(client.search(*bodies[(i * 7919 + j) % len(bodies)]))
        except Exception as exc:  # reported after the run
            errors.append(exc)
        finally:
            client.close()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    gate.wait()
    start = time.perf_counter()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    if errors:
        raise SemhashError(f"a concurrent client failed: {errors[0]}")
    out = stats([x for r in results for x in r], wall)
    out["clients"] = clients
    return out


def one_shot_cli(collection: Path, files: list[str], runs: int, k: int) -> dict:
    walls = []
    for f in files[:runs]:
        start = time.perf_counter()
        subprocess.run([semhash_exe(), "search", str(collection), "--query", f, "-k", str(k),
                        "--json", "-q"], check=True, capture_output=True)  # fmt: skip
        walls.append((time.perf_counter() - start) * 1000)
    a = np.asarray(walls)
    return {"runs": len(a), "median_ms": round(float(np.median(a)), 1),
            "min_ms": round(float(a.min()), 1), "max_ms": round(float(a.max()), 1)}  # fmt: skip


def run_serve_bench(opts: ServeBenchOptions) -> ServeBenchReport:
    from semantic_hashing.query import api

    with api.open(opts.collection) as coll:
        if not coll.input_kind.takes_images:
            raise SemhashError("the serve benchmark uploads images: give an image collection.")
        name, items = coll.name, len(coll)
        rng = random.Random(opts.seed)
        ids = rng.sample(range(items), min(200, items))
        files = [p for i in ids if os.path.isfile(p := coll.item(i)["path"])]
    if not files:
        raise SemhashError(f"the files of {opts.collection} are gone; nothing to upload.")
    bodies = [multipart(Path(f).read_bytes(), opts.k) for f in files]
    load_before = os.getloadavg()
    port = free_port()
    proc = start_server(opts.collection, port)
    try:
        log.info("sequential: %d requests", opts.requests)
        seq = sequential(port, name, bodies, opts.requests)
        log.info("concurrent: %d clients, %d requests", opts.clients, opts.concurrent_requests)
        conc = concurrent(port, name, bodies, opts.clients, opts.concurrent_requests)
    finally:
        proc.terminate()
        proc.wait(30)
    log.info("one-shot CLI: %d runs", opts.cli_runs)
    cli = one_shot_cli(opts.collection, files, opts.cli_runs, opts.k)
    speedup = round(cli["median_ms"] / seq["p50_ms"], 1)
    load = {"before": [round(x, 2) for x in load_before],
            "after": [round(x, 2) for x in os.getloadavg()], "cpus": os.cpu_count()}  # fmt: skip
    got = {"p50_ms": seq["p50_ms"], "p99_ms": seq["p99_ms"],
           "throughput_rps": conc["throughput_rps"], "speedup": speedup}  # fmt: skip
    targets = {key: {"target": want, "measured": got[key],
                     "met": got[key] <= want if key.endswith("_ms") else got[key] >= want}
               for key, want in TARGETS.items()}  # fmt: skip
    report = ServeBenchReport(str(opts.collection), items, seq, conc, cli, speedup, load, targets)
    if opts.out:
        opts.out.mkdir(parents=True, exist_ok=True)
        (opts.out / "serve-bench.json").write_text(json.dumps(report.to_dict(), indent=2))
        (opts.out / "serve-bench.md").write_text(as_table(report) + "\n")
    return report


def as_table(r: ServeBenchReport) -> str:
    s, c, cli = r.sequential, r.concurrent, r.cli
    rows = [
        "| measured | p50 ms | p99 ms | requests/s | target | met |",
        "|---|---:|---:|---:|---|---|",
        f"| HTTP upload, top-10, {s['requests']} sequential | {s['p50_ms']} | {s['p99_ms']} | "
        f"{s['throughput_rps']} | p50 <= 20, p99 <= 100 | "
        f"{_met(r, 'p50_ms')} / {_met(r, 'p99_ms')} |",
        f"| HTTP, {c['clients']} concurrent clients, {c['requests']} requests | {c['p50_ms']} | "
        f"{c['p99_ms']} | {c['throughput_rps']} | >= 100 req/s | {_met(r, 'throughput_rps')} |",
        f"| one-shot `semhash search`, {cli['runs']} runs (median) | {cli['median_ms']} | "
        f"max {cli['max_ms']} | {round(1000 / cli['median_ms'], 2)} | | |",
        f"| speed-up of serve (CLI median / HTTP p50) | {r.speedup}x | | | >= 100x | "
        f"{_met(r, 'speedup')} |",
    ]
    load = r.load
    return "\n".join(rows) + (f"\n\n{r.items:,} items; load average {load['before']} before, "
                              f"{load['after']} after, on {load['cpus']} CPUs")  # fmt: skip


def _met(r: ServeBenchReport, key: str) -> str:
    return "yes" if r.targets[key]["met"] else "NOT met"
