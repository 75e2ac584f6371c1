"""The house keeps its shape: imports run one way, no circles, the product never imports the
benchmarks. Read from the source by tools/house.py (nothing is imported)."""

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PKG = "semantic_hashing"
# Each room, and the rooms it must never import.
BELOW = {
    f"{PKG}.retrieval": (f"{PKG}.indexer", f"{PKG}.query", f"{PKG}.cli", f"{PKG}.server"),
    f"{PKG}.indexer": (f"{PKG}.query", f"{PKG}.cli", f"{PKG}.server"),
    f"{PKG}.query": (f"{PKG}.cli", f"{PKG}.server"),
}


@pytest.fixture(scope="module")
def house():
    spec = importlib.util.spec_from_file_location("house", ROOT / "tools" / "house.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def edges(house):
    return house.graph(ROOT)


def test_the_reader_sees_every_room(edges):
    rooms = {m.split(".")[1] for m in edges if m.count(".")}
    assert {"retrieval", "indexer", "query", "bench", "cli", "server"} <= rooms
    assert len(edges) > 60


@pytest.mark.parametrize("room", sorted(BELOW))
def test_imports_run_one_way(edges, room):
    wrong = [(m, t) for m, targets in edges.items() if m == room or m.startswith(room + ".")
             for t in targets if t.startswith(BELOW[room])]  # fmt: skip
    assert not wrong, f"{room} imports a room above it: {wrong}"


def test_the_product_never_imports_the_benchmarks(edges):
    bench = f"{PKG}.bench"
    wrong = [(m, t) for m, targets in edges.items() if not m.startswith(bench)
             for t in targets if t.startswith(bench)]  # fmt: skip
    assert not wrong, wrong


def test_no_import_circles(house, edges):
    assert house.circles(edges) == []


def test_the_circle_finder_finds_a_circle(house):
    assert house.circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
