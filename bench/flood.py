"""A flood of `semhash serve` with clients that disconnect half-way, counted from outside.

The installed `semhash serve` runs as its own process on a free loopback port with its log
in a file. Concurrent clients send `requests` uploads (28x28 PNGs of the collection, top
10); every `requests // disconnects`-th one sends its headers and half of its multipart
body, then closes the connection. Afterwards the log is searched for tracebacks (there
must be none: a disconnect is one log line) and the server's resident memory (VmRSS of
/proc/PID/status) is compared before and after.
"""

from __future__ import annotations

import http.client
import json
import logging
import random
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

from semantic_hashing.bench.serve import free_port, multipart, start_server
from semantic_hashing.indexer.store import Store
from semantic_hashing.retrieval.errors import SemhashError
from semantic_hashing.retrieval.heap import status_kb

log = logging.getLogger(__name__)


@dataclass
class FloodReport:
    requests: int = 0
    disconnects: int = 0
    answered: dict = field(default_factory=dict)  # status -> count
    tracebacks_in_log: int = 0
    disconnect_lines_in_log: int = 0
    rss_before_kb: int = 0
    rss_after_kb: int = 0
    wall_s: float = 0.0
    log_file: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


def rss_kb(pid: int) -> int:
    got = status_kb("VmRSS", pid)
    if got is None:
        raise SemhashError(f"no VmRSS for process {pid} (Linux /proc needed).")
    return got


def half_and_close(port: int, path: str, body: bytes, ctype: str) -> None:
    """Headers promising the whole body, half of it, then the connection closes."""
    head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: {ctype}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()  # fmt: skip
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(head + body[: len(body) // 2])
        time.sleep(0.01)


def whole(port: int, path: str, body: bytes, ctype: str) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("POST", path, body, {"Content-Type": ctype})
        resp = conn.getresponse()
        data = resp.read()
        if resp.status == 200 and not json.loads(data)["results"]:
            return -1  # an answer without results counts apart
        return resp.status
    finally:
        conn.close()


def sample_bodies(collection: Path, n: int = 20, seed: int = 0) -> list[tuple[bytes, str]]:
    with Store.open(collection) as store:
        paths = sorted(store.meta.live())
    files = random.Random(seed).sample(paths, min(n, len(paths)))
    return [multipart(Path(f).read_bytes(), 10) for f in files]


def flood(collection: Path, requests: int = 2000, disconnects: int = 300, clients: int = 8,
          log_file: Path | None = None) -> FloodReport:  # fmt: skip
    """Run the flood (see module doc) and count what the server did."""
    if not 0 <= disconnects <= requests:
        raise SemhashError("disconnects must lie between 0 and the number of requests.")
    log_file = Path(log_file or "serve-flood.log")
    port, bodies = free_port(), sample_bodies(collection)
    name = Path(collection).name.removesuffix(".semhash")
    path = f"/api/collections/{name}/search"
    every = requests // disconnects if disconnects else requests + 1
    proc = start_server(Path(collection), port, log_file)
    report, lock = FloodReport(requests=requests, log_file=str(log_file)), threading.Lock()
    try:
        whole(port, path, *bodies[0])  # warm: the model and index loaded
        report.rss_before_kb = rss_kb(proc.pid)

        def one(i: int) -> None:
            body, ctype = bodies[i % len(bodies)]
            if i % every == every - 1 and report.disconnects < disconnects:
                with lock:
                    report.disconnects += 1
                half_and_close(port, path, body, ctype)
                return
            status = whole(port, path, body, ctype)
            with lock:
                report.answered[status] = report.answered.get(status, 0) + 1

        t0 = time.perf_counter()
        with ThreadPoolExecutor(clients) as pool:
            list(pool.map(one, range(requests)))
        report.wall_s = round(time.perf_counter() - t0, 2)
        time.sleep(1.0)  # the server notices the last disconnects
        report.rss_after_kb = rss_kb(proc.pid)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    text = log_file.read_text(errors="replace")
    report.tracebacks_in_log = text.count("Traceback")
    report.disconnect_lines_in_log = text.count("closed the connection before sending")
    return report
