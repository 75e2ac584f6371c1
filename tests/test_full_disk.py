"""A full disk: writes of a process of the installed command fail with ENOSPC once a seeded
random number of bytes is written (tests/faults.py). Each of index, remove, dedup --move-to
and check --repair answers one sentence with a non-zero exit and no traceback; no file or
item is lost; leftover temporary files are counted by `check` and removed by `check
--repair`; the collection searches afterwards and a rerun with room completes.

Limit: SQLite writes its database in C, past the injector: a full disk during a metadata
commit is covered by SQLite's own journal, not here."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from semantic_hashing.cli.options import FULL_DISK

from .conftest import pattern
from .faults import DupLab, digest, fault_env, files, live_paths, semhash

COMMANDS = {
    "index": ["index", "{root}", "-c", "{coll}", "-q"],
    "remove": ["remove", "{coll}", "--path", "{root}/b"],
    "dedup --move-to": ["dedup", "{coll}", "--radius", "32", "--move-to", "{target}", "-q"],
    "check --repair": ["check", "--repair", "{coll}"],
}
FIGURES = {"runs": 0, "failed with one sentence": 0, "litter files left": 0,
           "litter removed by repair": 0, "items lost": 0}  # fmt: skip


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    return DupLab(tmp_path_factory.mktemp("full"), COMMANDS)


def prepare(lab: DupLab, name: str) -> None:
    """Each command's starting point: new files to index, or damage to repair."""
    lab.restore()
    if name == "index":
        from PIL import Image

        rng = np.random.default_rng(5)
        (lab.root / "c").mkdir()
        for i in range(40):
            Image.fromarray(pattern(i % 3, rng)).save(lab.root / "c" / f"new{i:02d}.png")
    if name == "check --repair":  # codes whose rows were removed, as a killed remove leaves
        from semantic_hashing.indexer.store import Store

        with Store.open(lab.coll, write=True) as store:
            store.meta.soft_delete([1, 2])


def bytes_written(lab: DupLab, name: str) -> int:
    prepare(lab, name)
    count = lab.base / "count"
    done = semhash(*lab.args(name), env=fault_env(lab.base / "f", lab.base, "enospc", 10**12,
                                                  count))  # fmt: skip
    assert done.returncode == 0, done.stderr
    return int(count.read_text().split()[1])


def temporaries(lab: DupLab) -> list[Path]:
    found = list(lab.coll.rglob("*.tmp")) + list(lab.coll.parent.glob(".*.tmp"))
    return found + list(lab.target.rglob(".semhash-*")) if lab.target.exists() else found


def fill_disk(lab: DupLab, name: str, budget: int) -> None:
    prepare(lab, name)
    before = {p: digest(p) for p in files(lab.root)}
    full = semhash(*lab.args(name), env=fault_env(lab.base / "f", lab.base, "enospc", budget))
    FIGURES["runs"] += 1
    out = full.stdout + full.stderr
    assert full.returncode == 1 and "Traceback" not in out, out
    said = [ln for ln in full.stderr.splitlines() if ln.startswith("Error:")]
    assert said == [f"Error: {FULL_DISK}"], out
    FIGURES["failed with one sentence"] += 1
    litter = temporaries(lab)
    FIGURES["litter files left"] += len(litter)
    found = semhash("check", lab.coll)
    assert "Traceback" not in found.stdout + found.stderr
    shown = re.search(r"leftover temporary files: (\d+)", found.stdout)
    assert shown and int(shown[1]) == len(litter), (found.stdout, litter)
    fixed = semhash("check", "--repair", lab.coll)
    assert fixed.returncode == 0 and not temporaries(lab), fixed.stdout + fixed.stderr
    FIGURES["litter removed by repair"] += len(litter)
    assert semhash("check", lab.coll).returncode == 0
    lost = sum(digest(p) != sha for p, sha in before.items() if p.exists())
    lost += sum(not p.exists() and not (lab.target / p.relative_to(lab.root)).is_file()
                for p in before)  # fmt: skip
    lost += sum(not Path(p).is_file() for p in live_paths(lab.coll))
    FIGURES["items lost"] += lost
    assert lost == 0
    hits = semhash("search", lab.coll, "--query", lab.root / "a" / "img020.png", "--paths")
    assert hits.returncode == 0 and str(lab.root / "a" / "img020.png") in hits.stdout
    again = semhash(*lab.args(name))
    assert again.returncode == 0 or "nothing indexed" in again.stderr, again.stderr
    assert semhash("check", lab.coll).returncode == 0


def budgets(lab: DupLab, name: str, n: int, seed: int) -> list[int]:
    total = bytes_written(lab, name)
    assert total > 0, f"{name} wrote nothing the injector sees"
    return sorted(int(b) for b in np.random.default_rng(seed).integers(0, total, n))


@pytest.mark.parametrize("name", list(COMMANDS))
def test_a_full_disk_is_one_sentence_and_loses_nothing(lab, name):
    fill_disk(lab, name, 0)  # the first byte written fails
    print("full disk (short):", FIGURES)


@pytest.mark.slow
def test_a_full_disk_at_random_points_of_each_writer(lab):
    for name in COMMANDS:
        for budget in budgets(lab, name, 5, seed=23):
            fill_disk(lab, name, budget)
    print("full disk suite (index, remove, dedup --move-to, check --repair):", FIGURES)
    assert FIGURES["items lost"] == 0 and FIGURES["litter removed by repair"] > 0
