"""kill -9 at random points of `remove` and of the dedup actions (`--move-to`, `--link-to`),
each a process of the installed command. The kill lands at a seeded random file change of
the command (tests/conftest.py FAULTS: the N-th file created, renamed, linked or removed
below the test's folder). After each kill `check` reports, `check --repair` and a rerun
complete, and no item or file is lost: every original file exists exactly once, in its
folder or the move target, with its bytes; every listed item's file exists; every file
still in the folder is listed unless the command removed it.

The default run kills each command once; `pytest -m slow tests/test_kill_nine.py` kills
each at 8 points and prints the counts."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from .faults import DupLab, digest, fault_env, live_paths, semhash

COMMANDS = {  # name -> the command line after `semhash`
    "remove": ["remove", "{coll}", "--path", "{root}/b", "--id", "0", "--id", "3"],
    "dedup --move-to": ["dedup", "{coll}", "--radius", "32", "--move-to", "{target}", "-q"],
    "dedup --link-to": ["dedup", "{coll}", "--radius", "32", "--link-to", "{target}", "-q"],
}
STATS = {"runs": 0, "kill points": 0, "kills landed": 0, "items checked": 0, "items lost": 0}


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    return DupLab(tmp_path_factory.mktemp("kill9"), COMMANDS)


def changes_of(lab: DupLab, name: str) -> int:
    """How many file changes the command makes when nothing stops it."""
    lab.restore()
    count = lab.base / "count"
    env = fault_env(lab.base / "faults", lab.base, "kill", 0, count)
    done = semhash(*lab.args(name), env=env)
    assert done.returncode == 0, done.stderr
    return int(count.read_text().split()[0])


def lost_items(lab: DupLab, name: str) -> int:
    """Originals missing, doubled or changed; listed items whose files are gone; files in
    the folder the collection forgot though the command never removed them."""
    lost = 0
    for rel, sha in lab.files.items():
        here, there = lab.root / rel, lab.target / rel
        copies = [p for p in (here, there) if p.is_file() and not p.is_symlink()]
        lost += len(copies) != 1 or digest(copies[0]) != sha
    live = set(live_paths(lab.coll))
    lost += sum(not os.path.exists(p) for p in live)
    asked = lab.asked if name == "remove" else set()
    for path in lab.live - live:  # forgotten: only what was asked, or moved away
        lost += not (path in asked or Path(path).parent in map(Path, asked) or
                     not os.path.exists(path))  # fmt: skip
    for link in lab.target.rglob("*") if lab.target.exists() else ():
        lost += link.is_symlink() and not link.resolve().is_file()
    return lost


def kill_and_recover(lab: DupLab, name: str, at: int) -> None:
    lab.restore()
    env = fault_env(lab.base / "faults", lab.base, "kill", at)
    killed = semhash(*lab.args(name), env=env)
    STATS["runs"] += 1
    STATS["kill points"] += 1
    STATS["kills landed"] += killed.returncode == -9
    found = semhash("check", lab.coll)
    assert "Traceback" not in found.stdout + found.stderr, found.stderr
    assert f"{lab.coll}: " in found.stdout and ("ok" in found.stdout or found.returncode == 1)
    fixed = semhash("check", "--repair", lab.coll)
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    rerun = semhash(*lab.args(name))
    assert rerun.returncode == 0 or "nothing indexed" in rerun.stderr or (
        "is not in" in rerun.stderr), rerun.stderr  # fmt: skip  # remove: already removed
    assert "Traceback" not in rerun.stderr
    clean = semhash("check", lab.coll)
    assert clean.returncode == 0 and clean.stdout.rstrip().endswith("ok"), clean.stdout
    STATS["items checked"] += len(lab.files)
    lost = lost_items(lab, name)
    STATS["items lost"] += lost
    assert lost == 0, (name, at)


def kill_points(lab: DupLab, name: str, n: int, seed: int) -> list[int]:
    total = changes_of(lab, name)
    rng = np.random.default_rng(seed)
    return sorted(rng.choice(np.arange(1, total + 1), size=min(n, total), replace=False))


@pytest.mark.parametrize("name", list(COMMANDS))
def test_kill_nine_once_in_each_file_acting_command(lab, name):
    for at in kill_points(lab, name, 1, seed=len(name)):
        kill_and_recover(lab, name, int(at))
    print("kill -9 (short):", STATS)


@pytest.mark.slow
def test_kill_nine_at_random_points_of_remove_and_dedup_actions(lab):
    for name in COMMANDS:
        for at in kill_points(lab, name, 8, seed=23):
            kill_and_recover(lab, name, int(at))
    print("kill -9 suite (remove, dedup --move-to, dedup --link-to):", STATS)
    assert STATS["items lost"] == 0 and STATS["kills landed"] >= 20
