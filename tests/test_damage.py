"""Every file of a collection deleted, truncated or replaced by garbage: `search`, `check`,
`check --repair` and `index` end in a sentence or a repair, never a traceback, and no item
that can be recovered is lost.

The fast suite runs the whole matrix in-process (CliRunner) and a few cases as separate
processes of the installed `semhash`; `-m slow` runs every case as separate processes.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from semantic_hashing.cli import cli
from semantic_hashing.indexer.pipeline import IndexOptions, index_folder
from semantic_hashing.indexer.store import Store

from .conftest import make_image_folder

SEMHASH = Path(sys.executable).with_name("semhash")
# (file, whether its loss can be repaired from the rest of the folder)
FILES = {
    "milvus.db": True,  # Milvus Lite data (a folder) of the collection kept in Milvus
    "collection.json": True,
    "codes.index": True,
    "raw/00000001.npz": True,
    "metadata.sqlite": False,  # the only record of which file a code belongs to
    "model.pt": False,  # the weights: codes of new queries cannot be made without them
}
MODES = ("delete", "truncate", "garble")


def damage(path: Path, mode: str) -> None:
    """Delete, truncate to half, or overwrite with seeded garbage of the same length."""
    if path.is_dir():
        if mode == "delete":
            shutil.rmtree(path)
            return
        path = max((p for p in path.rglob("*") if p.is_file()), key=lambda p: p.stat().st_size)
    if mode == "delete":
        path.unlink()
    elif mode == "truncate":
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    else:
        n = path.stat().st_size
        path.write_bytes(np.random.default_rng(n).integers(0, 256, max(n, 64), np.uint8).tobytes())


def snapshot(path: Path) -> dict:
    """path -> (id, code) of every live item."""
    with Store.open(path) as coll:
        ids, codes = coll.index.ids(), coll.index.codes()
        rows = coll.meta.get(ids.tolist())
        return {rows[i].path: (int(i), c.tobytes()) for i, c in zip(ids, codes, strict=True)
                if int(i) in rows}  # fmt: skip


@pytest.fixture(scope="module")
def pristine(tmp_path_factory, collection):
    """A 30-item collection in 3 raw chunks, with the session collection's model."""
    root = tmp_path_factory.mktemp("damage")
    folder = make_image_folder(root / "imgs", per_class=10, seed=5)
    path = root / "c.semhash"
    index_folder(folder, path, IndexOptions(model_path=collection / "model.pt", chunk_size=10))
    return folder, path, snapshot(path)


@pytest.fixture(scope="module")
def pristine_lite(tmp_path_factory, pristine, collection):
    """The same items with their codes in the collection's own Milvus Lite data."""
    pytest.importorskip("pymilvus", reason="the milvus extra is not installed")
    folder = pristine[0]
    path = tmp_path_factory.mktemp("damage-lite") / "c.semhash"
    opts = IndexOptions(model_path=collection / "model.pt", chunk_size=10, backend="milvus")
    index_folder(folder, path, opts)
    return folder, path, snapshot(path)


def copy_of(pristine, tmp_path):
    folder, path, before = pristine
    dest = tmp_path / "c.semhash"
    shutil.copytree(path, dest)
    return folder, dest, before


def commands(folder: Path, coll: Path) -> list[list[str]]:
    query = sorted((folder / "bars").iterdir())[0]
    return [["search", str(coll), "--query", str(query), "-k", "3", "-q"],
            ["search", str(coll), "--id", "4", "-q"],
            ["check", str(coll)],
            ["check", str(coll), "--repair"],
            ["index", str(folder), "-c", str(coll), "-q"],
            ["check", str(coll)]]  # fmt: skip


def in_process(args):
    result = CliRunner().invoke(cli, args)
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        args, result.output, repr(result.exception))  # fmt: skip
    assert "Traceback" not in result.output
    assert "/proc/self/fd" not in result.output  # the collection as the user named it
    if result.exit_code:
        assert result.output.strip().splitlines()[-1].startswith("Error: "), result.output
    return result.exit_code, result.output


def as_process(args):
    done = subprocess.run([str(SEMHASH), *args], capture_output=True, text=True, timeout=180)
    assert "Traceback" not in done.stderr, (args, done.stderr)
    assert "/proc/self/fd" not in done.stderr, (args, done.stderr)
    assert done.returncode in (0, 1), (args, done.returncode, done.stderr)
    if done.returncode:
        assert done.stderr.strip().splitlines()[-1].startswith("Error: "), done.stderr
    return done.returncode, done.stdout + done.stderr


def run_case(pristine, tmp_path, name, mode, runner):
    folder, coll, before = copy_of(pristine, tmp_path)
    original = (coll / name).read_bytes() if (coll / name).is_file() else None
    damage(coll / name, mode)
    cmds = commands(folder, coll)
    outcomes = [runner(args) for args in cmds]
    if FILES[name]:  # repaired: every item back under its id with its code
        assert outcomes[-1][0] == 0, outcomes
        assert snapshot(coll) == before
        return outcomes
    # refused: every command says so, and nothing else in the folder was touched; without
    # the model, a search by id still answers from the stored codes (no query to encode)
    answers = [name == "model.pt" and "--id" in args for args in cmds]
    assert [code for code, _ in outcomes] == [0 if ok else 1 for ok in answers], outcomes
    (coll / name).write_bytes(original)
    assert runner(["check", str(coll)])[0] == 0
    assert snapshot(coll) == before
    return outcomes


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", [n for n in FILES if n != "milvus.db"])
def test_damage_in_process(pristine, tmp_path, name, mode):
    run_case(pristine, tmp_path, name, mode, in_process)


@pytest.mark.parametrize("name, mode", [("codes.index", "garble"), ("metadata.sqlite", "delete")])
def test_damage_as_processes(pristine, tmp_path, name, mode):
    run_case(pristine, tmp_path, name, mode, as_process)


@pytest.mark.parametrize("mode", MODES)
def test_milvus_lite_data_damaged_in_process(pristine_lite, tmp_path, mode):
    """The Milvus Lite folder deleted, or its largest file truncated or garbled: the codes
    are rebuilt from the stored inputs (the damaged folder set aside)."""
    outcomes = run_case(pristine_lite, tmp_path, "milvus.db", mode, in_process)
    if mode != "delete":
        assert (tmp_path / "c.semhash" / "milvus.db.damaged").is_dir()
    assert outcomes[0][0] == 1 and "check --repair" in outcomes[0][1]


@pytest.mark.slow
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", [n for n in FILES if n != "milvus.db"])
def test_damage_as_processes_every_case(pristine, tmp_path, name, mode):
    run_case(pristine, tmp_path, name, mode, as_process)


@pytest.mark.slow
@pytest.mark.parametrize("mode", MODES)
def test_milvus_lite_damage_as_processes(pristine_lite, tmp_path, mode):
    run_case(pristine_lite, tmp_path, "milvus.db", mode, as_process)


@pytest.mark.parametrize("mode", MODES)
def test_every_raw_chunk_damaged_as_processes(pristine, tmp_path, mode):
    # no stored input left at all: the commands that need one say so in one sentence; a
    # search by id answers from the item's code in the index, as before the damage
    folder, coll, before = copy_of(pristine, tmp_path)
    by_id = ["search", str(coll), "--id", "4", "--json", "-q"]
    answer = as_process(by_id)
    for chunk in sorted((coll / "raw").glob("*.npz")):
        damage(chunk, mode)
    assert as_process(by_id) == answer and answer[0] == 0
    for args in (by_id[:-1] + ["--baseline", "raw", "-q"], ["dedup", str(coll), "-q"],
                 ["outliers", str(coll), "-q"]):  # fmt: skip
        code, out = as_process(args)
        assert code == 1 and "input" in out.strip().splitlines()[-1], (args, out)
    assert as_process(["check", str(coll), "--repair"])[0] == 0
    assert as_process(["index", str(folder), "-c", str(coll), "-q"])[0] == 0
    assert snapshot(coll) == before
    assert as_process(["search", str(coll), "--id", "4", "-q"])[0] == 0
