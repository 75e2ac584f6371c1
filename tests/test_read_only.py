"""A collection, a target folder and a sheet path on a read-only file system (a read-only
bind mount: root ignores file permissions). Searching works; every change is refused with
one sentence. Skipped where mounts are not allowed."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from semantic_hashing.cli import cli

from .conftest import assert_user_error


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture
def read_only(tmp_path, collection):
    """A copy of the session collection inside a folder mounted read-only over itself."""
    folder = tmp_path / "ro"
    folder.mkdir()
    shutil.copytree(collection, folder / "c.semhash")
    for secondary in (folder / "c.semhash").glob("codes.*.*"):  # made by other tests
        secondary.unlink()
    mount = subprocess.run(["mount", "--bind", "-o", "ro", str(folder), str(folder)],
                           capture_output=True, text=True)  # fmt: skip
    if mount.returncode:
        pytest.skip(f"cannot make a read-only mount here ({mount.stderr.strip()})")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True)


def test_read_only_collection(read_only, image_folder):
    coll: Path = read_only / "c.semhash"
    assert run("search", coll, "--id", 1, "-k", 3).exit_code == 0
    hashed = run("search", coll, "--id", 1, "-k", 3, "--strategy", "hash")
    assert hashed.exit_code == 0, hashed.output  # built in memory, not saved
    assert not (coll / "codes.hash.index").exists()
    for args in (("remove", coll, "--id", 1), ("check", coll, "--repair"),
                 ("index", image_folder, "-c", coll)):  # fmt: skip
        assert_user_error(run(*args), "cannot be written")
    assert_user_error(run("index", image_folder, "-c", read_only / "new.semhash"), "not a writable")
    assert_user_error(run("search", coll, "--id", 1, "--sheet", read_only / "s.png"), "--sheet")
    assert_user_error(run("train", image_folder, "--out", read_only / "m.pt"), "--out")
