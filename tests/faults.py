"""Helpers of the fault-injection suites (kill -9, full disk): a fault injector for
processes of the installed command, and a duplicate folder with its collection that is
restored before every run."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

from semantic_hashing.indexer.pipeline import index_folder
from semantic_hashing.indexer.store import Store

from .conftest import fast_options, make_dup_folder

# -- fault injection into processes of the installed command -------------------------------
FAULTS = r'''
"""Written by tests/conftest.py: fault injection for one process of the installed command
(test-only; the product has no hook). Only files below SEMHASH_FAULT_UNDER count.
    kill    SIGKILL the process at its SEMHASH_FAULT_AT-th file change (0: never); the
            number of changes is written to SEMHASH_FAULT_COUNT at exit
    enospc  writes fail with ENOSPC once SEMHASH_FAULT_AT bytes were written"""
import atexit, builtins, errno, io, os, signal, sys

UNDER = os.environ.get("SEMHASH_FAULT_UNDER", "")
MODE, AT = os.environ.get("SEMHASH_FAULT", ""), int(os.environ.get("SEMHASH_FAULT_AT", "0"))
CHANGES = {"os.remove", "os.rename", "os.link", "os.symlink", "os.mkdir", "os.rmdir"}
seen = [0, 0]  # changes, bytes


def _below(path):
    try:
        return os.path.abspath(os.fsdecode(path)).startswith(UNDER)
    except (TypeError, ValueError):
        return False


def _writing(mode, flags):
    if isinstance(mode, str):
        return any(c in mode for c in "wax+")
    return bool(isinstance(flags, int) and flags & (os.O_WRONLY | os.O_RDWR))


def _hook(event, args):
    counted = event in CHANGES or (event == "open" and _writing(args[1], args[2]))
    if counted and args and _below(args[0]):
        seen[0] += 1
        if MODE == "kill" and seen[0] == AT:
            os.kill(os.getpid(), signal.SIGKILL)


class _Full:
    def __init__(self, fh):
        self._fh = fh

    def write(self, data):
        room = max(0, AT - seen[1])
        if len(data) > room:
            self._fh.write(data[:room])
            seen[1] = AT
            raise OSError(errno.ENOSPC, "No space left on device")
        seen[1] += len(data)
        return self._fh.write(data)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._fh.close()

    def __iter__(self):
        return iter(self._fh)

    def __getattr__(self, name):
        return getattr(self._fh, name)


_open = io.open


def _opening(file, mode="r", *args, **kw):
    fh = _open(file, mode, *args, **kw)
    return _Full(fh) if _writing(mode, None) and _below(file) else fh


if UNDER and MODE:
    sys.addaudithook(_hook)
    if MODE == "enospc":
        builtins.open = io.open = _opening
    if os.environ.get("SEMHASH_FAULT_COUNT"):
        atexit.register(lambda: _open(os.environ["SEMHASH_FAULT_COUNT"], "w").write(
            f"{seen[0]} {seen[1]}"))
'''

SEMHASH_BIN = Path(sys.executable).parent / "semhash"  # the installed command


def fault_env(folder: Path, under: Path, mode: str, at: int, count: Path | None = None) -> dict:
    """The environment of a `semhash` process with the fault injector of FAULTS (written to
    `folder`/sitecustomize.py) active for files below `under`."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sitecustomize.py").write_text(FAULTS)
    env = dict(os.environ, PYTHONPATH=str(folder), SEMHASH_FAULT=mode,
               SEMHASH_FAULT_AT=str(at), SEMHASH_FAULT_UNDER=str(under.resolve()))  # fmt: skip
    if count is not None:
        env["SEMHASH_FAULT_COUNT"] = str(count)
    return env


class DupLab:
    """A dup folder and its collection, restored to their first state before every run
    (the kill -9 and full-disk suites); `commands`: name -> its arguments, with {coll},
    {root} and {target} filled in."""

    def __init__(self, base: Path, commands: dict[str, list[str]]):
        self.commands = commands
        self.base, self.root = base, base / "work" / "photos"
        self.coll = base / "work" / "d.semhash"
        self.target, self.saved = base / "work" / "target", base / "saved"
        make_dup_folder(self.root, n=24)
        index_folder(self.root, self.coll, fast_options(epochs=1, bits=32))
        shutil.copytree(base / "work", self.saved, symlinks=True)
        self.files = {str(p.relative_to(self.root)): digest(p) for p in files(self.root)}
        self.live = set(live_paths(self.coll))
        with Store.open(self.coll) as store:  # what `remove` is asked to forget
            rows = store.meta.get([0, 3])
        self.asked = {str(self.root / "b")} | {rows[i].path for i in (0, 3)}

    def restore(self) -> None:
        shutil.rmtree(self.base / "work")
        shutil.copytree(self.saved, self.base / "work", symlinks=True)

    def args(self, name: str) -> list[str]:
        """The command line of `name` after `semhash`."""
        fill = {"root": self.root, "target": self.target, "coll": self.coll}
        return [a.format(**fill) for a in self.commands[name]]


def files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def live_paths(coll: Path) -> list[str]:
    with Store.open(coll) as store:
        return list(store.meta.live())


def semhash(*args, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([str(SEMHASH_BIN), *map(str, args)], capture_output=True, text=True,
                          env=env, timeout=300)  # fmt: skip
