"""kill -9 the indexer at random moments; every resume must end in a clean build.

Slow (about a few minutes): run with `pytest -m slow tests/test_fault_injection.py`.
"""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from semantic_hashing.indexer.maintenance import check_collection
from semantic_hashing.indexer.pipeline import index_folder
from semantic_hashing.indexer.store import Store

from .conftest import fast_options, make_image_folder


def index_cmd(folder, coll, model):
    return [sys.executable, "-m", "semantic_hashing", "index", str(folder), "-c", str(coll),
            "--model", str(model), "--chunk-size", "20", "-q"]  # fmt: skip


def n_chunks(path):
    raw = path / "raw"
    return len(list(raw.glob("*.npz"))) if raw.is_dir() else 0


def snapshot(path):
    coll = Store.open(path)
    try:
        ids, codes = coll.index.ids(), coll.index.codes()
        rows = coll.meta.get(ids.tolist())
        return sorted((rows[i].path, int(i), c.tobytes()) for i, c in zip(ids, codes, strict=True))
    finally:
        coll.close()


@pytest.mark.slow
def test_kill_nine_twenty_times_then_equal_to_clean_build(tmp_path, collection):
    folder = make_image_folder(tmp_path / "imgs", per_class=1000, seed=11)  # 3,000 images
    model = collection / "model.pt"
    env = dict(os.environ)
    coll = tmp_path / "killed.semhash"
    rng = np.random.default_rng(0)
    kills = 0
    while kills < 20:
        proc = subprocess.Popen(index_cmd(folder, coll, model), env=env)
        # kill at a random moment inside the chunk writing: after 1-3 more chunk files
        # appear, plus a random fraction of a chunk's time
        target = n_chunks(coll) + int(rng.integers(1, 4))
        while proc.poll() is None and n_chunks(coll) < target:
            time.sleep(0.005)
        time.sleep(rng.uniform(0, 0.05))
        if proc.poll() is not None:
            break  # it finished first: the rest of the kills have nothing left to hit
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        kills += 1
        c = Store.open(coll)  # after every kill the collection opens and searches
        if len(c.index):
            c.index.search(c.index.codes()[:1], 5)
        c.close()
    subprocess.run(index_cmd(folder, coll, model), env=env, check=True)
    opts = fast_options()
    opts.model_path = model
    index_folder(folder, tmp_path / "clean.semhash", opts)
    assert kills == 20, f"only {kills} kills landed before a run finished"
    killed, clean = snapshot(coll), snapshot(tmp_path / "clean.semhash")
    assert len(killed) == 3000 and len({row[1] for row in killed}) == 3000
    assert killed == clean
    report = check_collection(coll)
    assert all(v == 0 for v in report["problems"].values()), report
