"""The wheel built from a clean checkout installs one top-level import name of our own."""

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel of the committed and staged files only (what a clean clone holds)."""
    try:
        listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, check=True,
                                capture_output=True).stdout.decode().split("\0")  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    src = tmp_path_factory.mktemp("checkout")
    for name in filter(None, listed):
        if (ROOT / name).is_file():
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            (src / name).write_bytes((ROOT / name).read_bytes())
    out = tmp_path_factory.mktemp("dist")
    cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
           "--no-index", "-q", "-w", str(out), str(src)]  # fmt: skip
    subprocess.run(cmd, check=True, capture_output=True)
    (found,) = out.glob("semantic_hashing-*.whl")
    return found


def test_the_wheel_installs_one_import_name_of_our_own(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert top == {"semantic_hashing"}
    for package in ("retrieval", "indexer", "query", "bench", "cli", "server"):
        assert f"semantic_hashing/{package}/__init__.py" in names, package
    assert any(n.startswith("semantic_hashing/server/templates/") for n in names)
    assert any(n.endswith(".dist-info/licenses/LICENSE") or n.endswith("/LICENSE") for n in names)


# where each folder of the checkout lands in the installed package
FOLDERS = {"semantic_hashing": "semantic_hashing", "retrieval": "semantic_hashing/retrieval",
           "indexer": "semantic_hashing/indexer", "query": "semantic_hashing/query",
           "bench": "semantic_hashing/bench"}  # fmt: skip


def test_the_wheel_holds_every_module_of_the_checkout(wheel):
    """Every .py file of the product and the bench wing, subpackages included, is in the
    wheel (a subpackage missing from `packages` installs a command that cannot start)."""
    listed = subprocess.run(["git", "ls-files", *FOLDERS], cwd=ROOT, check=True,
                            capture_output=True, text=True).stdout.split()  # fmt: skip
    want = set()
    for name in listed:
        top, _, rest = name.partition("/")
        if name.endswith(".py") and not any(p.startswith(".") for p in rest.split("/")):
            want.add(f"{FOLDERS[top]}/{rest}")
    assert "semantic_hashing/retrieval/kinds/__init__.py" in want
    missing = want - set(zipfile.ZipFile(wheel).namelist())
    assert not missing, sorted(missing)


def test_the_wheel_declares_the_command_and_the_bench_plugin(wheel):
    with zipfile.ZipFile(wheel) as z:
        (points,) = [n for n in z.namelist() if n.endswith(".dist-info/entry_points.txt")]
        text = z.read(points).decode()
        (meta,) = [n for n in z.namelist() if n.endswith(".dist-info/METADATA")]
        metadata = z.read(meta).decode()
    assert "semhash = semantic_hashing.cli:main" in text
    assert "[semantic_hashing.commands]" in text and "semantic_hashing.bench.cli" in text
    assert "Name: semantic-hashing" in metadata
