"""`semhash serve --workers N` as the user runs it, each a process of the installed command:
the same answers as one process, every worker picks up an `index` run, a killed worker is
replaced, stopping the server stops its workers, a bad count is one sentence."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from semantic_hashing.bench.million_jobs import Served
from semantic_hashing.bench.serve import free_port, semhash_exe
from tests.conftest import CLASSES, make_image_folder

IDS = list(range(0, 120, 7))


def _children(pid: int) -> set[int]:
    """Pids of the worker processes of `pid` (uvicorn spawns them by multiprocessing)."""
    out = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
                cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
            except OSError:
                continue
            if int(stat[1]) == pid and b"spawn_main" in cmdline:
                out.add(int(entry))
    return out


def _search(served: Served, item_id: int) -> list[tuple[int, int]]:
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", served.port, timeout=60)
    try:
        body = json.dumps({"id": item_id, "k": 5})
        conn.request("POST", f"/api/collections/{served.name}/search", body,
                     {"Content-Type": "application/json"})  # fmt: skip
        resp = conn.getresponse()
        body = json.loads(resp.read())
    finally:
        conn.close()
    assert resp.status == 200, body
    return [(hit["id"], hit["distance"]) for hit in body["results"]]


def _answers(collection: Path, workers: int) -> dict[int, list]:
    with Served(collection, workers=workers) as served:
        assert len(_children(served.proc.pid)) == (workers if workers > 1 else 0)
        return {i: _search(served, i) for i in IDS}


def test_two_workers_answer_what_one_process_answers(collection):
    one = _answers(collection, 1)
    assert all(hits and hits[0][1] == 0 for hits in one.values())  # itself, or a twin code
    assert _answers(collection, 2) == one


def test_every_worker_sees_an_index_run_and_a_killed_worker_is_replaced(tmp_path):
    folder = make_image_folder(tmp_path / "images", per_class=12)
    coll = tmp_path / "grow.semhash"
    exe = semhash_exe()
    subprocess.run([exe, "index", str(folder), "-c", str(coll), "--bits", "16", "--epochs",
                    "1", "-q"], check=True, timeout=300)  # fmt: skip
    info = subprocess.run([exe, "info", str(coll), "--json"], check=True, capture_output=True,
                          timeout=120)  # fmt: skip
    before = json.loads(info.stdout)["items"]
    with Served(coll, workers=2) as served:
        workers = _children(served.proc.pid)
        assert len(workers) == 2
        path = f"/api/collections/{served.name}"
        assert {served.get(path)["items"] for _ in range(12)} == {before}
        make_image_folder(folder / "more", per_class=2, seed=5)
        subprocess.run([exe, "index", str(folder), "-c", str(coll), "-q"], check=True,
                       timeout=300)  # fmt: skip
        # each request lands on either worker: all of them answer with the new state
        assert {served.get(path)["items"] for _ in range(20)} == {before + 2 * len(CLASSES)}
        os.kill(min(workers), signal.SIGKILL)
        deadline = time.monotonic() + 60
        while len(_children(served.proc.pid) - {min(workers)}) < 2:
            assert time.monotonic() < deadline, "the killed worker was not replaced"
            time.sleep(0.5)
        assert {served.get(path)["items"] for _ in range(12)} == {before + 2 * len(CLASSES)}
        workers = _children(served.proc.pid)
    deadline = time.monotonic() + 30
    while any(Path(f"/proc/{pid}").exists() for pid in workers):  # stopped with the parent
        assert time.monotonic() < deadline, "a worker outlived the server"
        time.sleep(0.2)


@pytest.mark.parametrize("count", ["0", "65", "-3"])
def test_a_worker_count_out_of_range_is_one_sentence(collection, count):
    got = subprocess.run([semhash_exe(), "serve", str(collection), "--workers", count],
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert got.returncode != 0
    assert f"--workers must be from 1 to 64, not {count}." in got.stderr
    assert "Traceback" not in got.stderr


def test_a_collection_that_cannot_open_stops_before_any_worker(tmp_path, collection):
    broken = tmp_path / "broken.semhash"
    shutil.copytree(collection, broken)
    (broken / "collection.json").write_text("{not json")
    got = subprocess.run([semhash_exe(), "serve", str(broken), "--workers", "2",
                          "--port", str(free_port())], capture_output=True, text=True,
                         timeout=120)  # fmt: skip
    assert got.returncode != 0 and "Traceback" not in got.stderr
    assert "collection.json cannot be read" in got.stderr
    assert "Started parent process" not in got.stderr
