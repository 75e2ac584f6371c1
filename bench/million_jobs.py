"""The jobs of `semhash bench --task million`, each a process of the installed `semhash`
(timed, with its peak memory) or requests to a running `semhash serve`."""

from __future__ import annotations

import http.client
import json
import logging
import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from semantic_hashing.bench.serve import concurrent, free_port, semhash_exe, start_server
from semantic_hashing.retrieval.errors import SemhashError
from semantic_hashing.retrieval.heap import status_kb

log = logging.getLogger(__name__)


@dataclass
class Run:
    """One finished `semhash` process: wall seconds, peak resident memory, its output."""

    seconds: float
    peak_gb: float
    stdout: str
    load: float  # the 1-minute load average when it ended
    cpu_s: float = 0.0  # user + system seconds of the process and its reaped children


def semhash(*args: str, cwd: Path | None = None) -> Run:
    """Run `semhash ARGS`: wall and CPU seconds (wait4's rusage, that child's own) and its
    peak resident memory, the high-water mark VmHWM of the process sampled every 50 ms (not
    ru_maxrss: Linux starts a forked child's from its parent's resident set, so a child
    smaller than the bench process would show the bench's)."""
    cmd = [semhash_exe(), *args]
    log.info("running %s", " ".join(cmd[:4]) + (" ..." if len(cmd) > 4 else ""))
    start = time.perf_counter()
    with open(os.devnull, "rb") as devnull:
        proc = subprocess.Popen(cmd, stdin=devnull, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, cwd=cwd)  # fmt: skip
        out, err, peak_kb = _drain(proc)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SemhashError(f"`semhash {args[0]}` failed ({proc.returncode}): {err[-500:]}")
    cpu = usage.ru_utime + usage.ru_stime
    return Run(seconds, peak_kb / 2**20, out, os.getloadavg()[0], cpu)


def high_water_kb(pid: int) -> int:
    """VmHWM of a running process in kB (0 once it has exited)."""
    return status_kb("VmHWM", pid) or 0


def _drain(proc: subprocess.Popen) -> tuple[str, str, int]:
    """Read both pipes to the end without reaping the child (wait4 does that), sampling
    its memory high-water mark meanwhile."""
    import threading

    chunks: dict[str, bytes] = {}

    def read(name, pipe):
        chunks[name] = pipe.read()
        pipe.close()

    threads = [threading.Thread(target=read, args=(n, p))
               for n, p in (("out", proc.stdout), ("err", proc.stderr))]  # fmt: skip
    for t in threads:
        t.start()
    peak = 0
    while any(t.is_alive() for t in threads):
        peak = max(peak, high_water_kb(proc.pid))
        threads[0].join(0.05)
    for t in threads:
        t.join()
    out, err = (chunks[k].decode(errors="replace") for k in ("out", "err"))
    return out, err, peak


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def dedup_recall(groups: list[dict], truth: list[dict], root: Path) -> float:
    """Fraction of planted copies found in the same group as their original."""
    group_of = {}
    for g, group in enumerate(groups):
        for member in [group["keep"], *group["duplicates"]]:
            group_of[member["path"]] = g
    found = 0
    for row in truth:
        a = group_of.get(str(root / row["original"]))
        found += a is not None and a == group_of.get(str(root / row["copy"]))
    return found / len(truth)


def disk_per_item(collection: Path, items: int) -> dict[str, float]:
    """Bytes per item of each file of the collection (a folder's files summed under its
    name), so the values sum to the folder's size over `items`."""
    sizes: dict[str, int] = {}
    for path in collection.rglob("*"):
        if path.is_file():
            rel = path.relative_to(collection)
            key = rel.parts[0] + ("/" if len(rel.parts) > 1 else "")
            sizes[key] = sizes.get(key, 0) + path.stat().st_size
    return {k: round(v / items, 2) for k, v in sorted(sizes.items())}


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


class Served:
    """A `semhash serve` process on a free loopback port, stopped on exit."""

    def __init__(self, collection: Path, workers: int = 1):
        self.collection, self.workers = collection, workers

    def __enter__(self):
        self.port = free_port()
        self.proc = start_server(self.collection, self.port, workers=self.workers)
        self.name = self.get("/api/collections")[0]["name"]
        return self

    def __exit__(self, *exc):
        self.proc.terminate()
        self.proc.wait(30)

    def get(self, path: str) -> dict | list:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        try:
            conn.request("GET", path)
            resp = conn.getresponse()
            data = resp.read()
        finally:
            conn.close()
        if resp.status != 200:
            raise SemhashError(f"GET {path} answered {resp.status}: {data[:200]!r}")
        return json.loads(data)


def info_ms(served: Served, runs: int = 20) -> float:
    """Median milliseconds of the collection's info as the page asks for it, after one
    request that warms up (first requests open the collection lazily)."""
    path = f"/api/collections/{served.name}"
    served.get(path)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        served.get(path)
        times.append((time.perf_counter() - start) * 1000)
    return round(float(np.median(times)), 2)


def search_by_id(served: Served, ids: list[int], clients: int, requests: int) -> dict:
    """Latencies of searches by stored id (top 10) from `clients` concurrent clients."""
    bodies = [(json.dumps({"id": int(i), "k": 10}).encode(), "application/json") for i in ids]
    concurrent(served.port, served.name, bodies, clients, min(len(bodies), clients))  # warm-up
    return concurrent(served.port, served.name, bodies, clients, requests)
