"""Writers serialised, readers see whole states, interrupted dedup actions recover, and
temporary litter is found: run as processes of the installed command."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from semantic_hashing.indexer.maintenance import check_collection
from semantic_hashing.indexer.pipeline import index_folder
from semantic_hashing.indexer.store import Store

from .conftest import fast_options, make_dup_folder, make_image_folder

SEMHASH = [sys.executable, "-m", "semantic_hashing"]


def sh(*args, **kw):
    return subprocess.run([*SEMHASH, *map(str, args)], capture_output=True, text=True, **kw)


def live_paths(coll: Path) -> dict[int, str]:
    store = Store.open(coll)
    try:
        return {row[0]: path for path, row in store.meta.live().items()}
    finally:
        store.close()


READER = """
import json, sys, time
from pathlib import Path
import semantic_hashing as sh
path, item, stop = Path(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3])
staging = path.with_name("." + path.name + ".rebuild.tmp")
held = sh.open(path)  # a long-lived reader, refreshed like the web server's
out = []
while not stop.exists():
    during = staging.exists()
    held.refresh()
    with sh.open(path) as fresh:
        for coll, who in ((fresh, "fresh"), (held, "held")):
            hits = coll.search(id=item, k=5).results
            out.append([who, during, len(coll), [h.id for h in hits],
                        coll.store.info["model_fingerprint"]])
print(json.dumps(out))
"""


def test_readers_see_whole_states_during_a_rebuild(tmp_path, collection):
    folder = make_image_folder(tmp_path / "imgs", per_class=150, seed=5)  # 450 images
    path, model, other = tmp_path / "c.semhash", collection / "model.pt", tmp_path / "o.pt"
    opts = fast_options()
    opts.model_path, opts.chunk_size = model, 50
    index_folder(folder, path, opts)
    assert sh("train", folder, "--out", other, "--bits", 16, "--epochs", 1, "--seed", 3,
              "-q").returncode == 0  # fmt: skip
    n = len(live_paths(path))
    stop = tmp_path / "stop"
    reader = subprocess.Popen([sys.executable, "-c", READER, path, "7", stop],
                              stdout=subprocess.PIPE, text=True)  # fmt: skip
    time.sleep(4)  # the reader is up (torch imported) before the rebuild starts
    rebuild = sh("index", folder, "-c", path, "--model", other, "--rebuild", "--chunk-size",
                 "10", "-q")  # fmt: skip
    assert rebuild.returncode == 0, rebuild.stderr
    time.sleep(2)
    stop.touch()
    out, _ = reader.communicate(timeout=120)
    answers = json.loads(out)
    assert answers, "the reader answered nothing"
    during = [a for a in answers if a[1]]
    assert during, "no read happened while the rebuild ran"
    for who, _, count, ids, _ in answers:
        assert count == n, (who, count)  # never a partial count
        assert 7 in ids, (who, ids)  # the item is found, in the old state or the new
    fingerprints = {a[4] for a in answers}
    assert len(fingerprints) <= 2
    assert not path.with_name(f".{path.name}.rebuild.tmp").exists()
    assert check_collection(path)["problems"] == {k: 0 for k in check_collection(path)["problems"]}


@pytest.fixture
def dups(tmp_path):
    root = tmp_path / "photos"
    make_dup_folder(root, n=40)
    coll = tmp_path / "d.semhash"
    index_folder(root, coll, fast_options(epochs=0, bits=32))
    return root, coll


def _moved(target: Path) -> set[str]:
    return {str(p.relative_to(target)) for p in target.rglob("*") if p.is_file()}


def _assert_consistent(root: Path, coll: Path) -> None:
    """Every listed item's file exists, check is clean."""
    listed = live_paths(coll)
    assert all(os.path.exists(p) for p in listed.values())
    found = check_collection(coll)["problems"]
    assert not any(found.values()), found


def test_two_dedup_moves_at_once_move_each_file_once(dups, tmp_path):
    root, coll = dups
    before = len(list(root.rglob("*.*")))
    t1, t2 = tmp_path / "t1", tmp_path / "t2"
    wide = ["--radius", "6"]
    procs = [subprocess.Popen([*SEMHASH, "dedup", str(coll), *wide, "--move-to", str(t), "-q"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for t in (t1, t2)]  # fmt: skip
    results = [p.communicate(timeout=300) + (p.returncode,) for p in procs]
    m1, m2 = _moved(t1) if t1.exists() else set(), _moved(t2) if t2.exists() else set()
    assert m1 or m2, results
    assert not (m1 & m2), "a file was moved by both"
    for _, err, rc in results:  # each either did the work or said one sentence why not
        assert rc == 0 or ("another semhash process" in err and "Traceback" not in err), err
    assert len(list(root.rglob("*.*"))) + len(m1) + len(m2) == before
    _assert_consistent(root, coll)


KILLED_MOVE = """
import os, sys
from semantic_hashing.query import dedup_act
from semantic_hashing.cli import cli
after = int(sys.argv[1])
done = []
real = dedup_act._move
def dying(src, dst):
    if len(done) == after:
        os.link(src, dst)  # the new name made, the old one not yet removed
        os._exit(9)  # no finally block runs: as kill -9
    real(src, dst)
    done.append(src)
dedup_act._move = dying
cli(sys.argv[2:])
"""


@pytest.mark.parametrize("after", [0, 2])
def test_a_killed_dedup_move_is_completed_by_repair_and_rerun(dups, tmp_path, after):
    root, coll = dups
    target = tmp_path / "moved"
    args = [str(coll), "--radius", "6", "--move-to", str(target), "-q"]
    killed = subprocess.run([sys.executable, "-c", KILLED_MOVE, str(after), "dedup", *args],
                            capture_output=True, text=True)  # fmt: skip
    assert killed.returncode == 9, killed.stderr
    found = sh("check", coll)
    assert found.returncode != 0 and "interrupted dedup actions: 1" in found.stdout, found.stdout
    # the moves done before the kill left listed items whose files are gone: check says so
    assert f"listed items whose files are missing: {after}" in found.stdout, found.stdout
    fixed = sh("check", "--repair", coll)
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert "interrupted dedup moves completed" in fixed.stdout
    _assert_consistent(root, coll)
    assert len(_moved(target)) == after + 1
    rerun = sh("dedup", *args)  # the rerun is not refused on its own earlier moves
    assert rerun.returncode == 0, rerun.stderr
    _assert_consistent(root, coll)


def test_a_killed_dedup_move_is_completed_by_the_rerun_itself(dups, tmp_path):
    root, coll = dups
    target = tmp_path / "moved"
    args = [str(coll), "--radius", "6", "--move-to", str(target), "-q"]
    subprocess.run([sys.executable, "-c", KILLED_MOVE, "1", "dedup", *args], capture_output=True)
    rerun = sh("dedup", *args)
    assert rerun.returncode == 0, rerun.stderr
    _assert_consistent(root, coll)


def test_leftover_temporary_files_are_found_and_removed(dups):
    root, coll = dups
    (coll / "raw" / "00000099.npz.tmp").write_bytes(b"half")
    (coll / "collection.json.tmp").write_bytes(b"{")
    (coll.with_name(f".{coll.name}.rebuild.tmp")).mkdir()
    found = sh("check", coll)
    assert found.returncode != 0 and "leftover temporary files: 3" in found.stdout
    fixed = sh("check", "--repair", coll)
    assert fixed.returncode == 0 and "temporary files removed" in fixed.stdout, fixed.stdout
    assert (
        not list(coll.rglob("*.tmp")) and not coll.with_name(f".{coll.name}.rebuild.tmp").exists()
    )
    assert sh("check", coll).returncode == 0


def test_check_counts_listed_items_whose_files_are_gone(dups):
    root, coll = dups
    victim = sorted(live_paths(coll).values())[0]
    os.unlink(victim)
    found = sh("check", coll)
    assert found.returncode != 0
    assert "listed items whose files are missing: 1" in found.stdout
    assert "--prune" in found.stderr


@pytest.mark.slow
def test_kill_nine_at_random_points_of_each_writer(tmp_path, collection):
    """kill -9 each writing command at random moments; check --repair makes it clean and no
    item is lost (compared with a clean build of the same folder)."""
    folder = make_image_folder(tmp_path / "imgs", per_class=100, seed=9)
    model, other = collection / "model.pt", tmp_path / "o.pt"
    assert sh("train", folder, "--out", other, "--bits", 16, "--epochs", 1, "-q").returncode == 0
    clean = tmp_path / "clean.semhash"
    assert sh("index", folder, "-c", clean, "--model", model, "-q").returncode == 0
    want = set(live_paths(clean).values())
    rng = np.random.default_rng(1)
    stats = {"runs": 0, "killed": 0, "items checked": 0, "items lost": 0}
    coll = tmp_path / "k.semhash"
    commands = [
        ["index", folder, "-c", coll, "--model", model, "--chunk-size", "20", "-q"],
        ["index", folder, "-c", coll, "--model", other, "--rebuild", "--chunk-size", "20", "-q"],
        ["index", folder, "-c", coll, "--model", model, "--rebuild", "--chunk-size", "20", "-q"],
        ["check", "--repair", coll],
    ]
    for round_ in range(12):
        args = commands[round_ % len(commands)]
        proc = subprocess.Popen([*SEMHASH, *map(str, args)], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)  # fmt: skip
        time.sleep(rng.uniform(1.0, 6.0))
        stats["runs"] += 1
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            stats["killed"] += 1
        proc.wait()
        if (coll / "collection.json").exists():
            sh("check", "--repair", coll)
            assert sh("check", coll).returncode == 0
    assert sh("index", folder, "-c", coll, "--model", model, "--rebuild", "-q").returncode == 0
    got = set(live_paths(coll).values())
    stats["items checked"] = len(want)
    stats["items lost"] = len(want - got)
    print("kill -9 suite:", stats)
    assert got == want
    shutil.rmtree(coll)
