"""The code-store registry: every registered store has the whole interface that collections,
dedup, evaluation and the benchmarks use, and goes through a collection's life by the same
calls, its searches equal to a brute-force popcount."""

import importlib.util
import inspect
import subprocess
import sys

import numpy as np
import pytest

from semantic_hashing.indexer.backends import (
    CODE_STORES,
    DEFAULT_STORE,
    CodeIndex,
    CodeStore,
    code_store,
    recovered_entry,
    store_of,
)
from semantic_hashing.indexer.layout import INDEX
from semantic_hashing.retrieval.errors import SemhashError

from .conftest import brute_force_hamming, seeded_codes

BITS = 64


def protocol_methods(protocol) -> list[str]:
    own = vars(protocol).items()
    return sorted(n for n, v in own if callable(v) and (not n.startswith("_") or n == "__len__"))


def parameters(fn) -> list[str]:
    return list(inspect.signature(fn).parameters)


def test_the_protocols_name_what_callers_use():
    assert protocol_methods(CodeIndex) == sorted(
        [
            "__len__",
            "add",
            "remove",
            "search",
            "range_search",
            "reconstruct",
            "codes_of",
            "ids",
            "codes",
            "save",
            "close",
        ]  # fmt: skip
    )
    for method in protocol_methods(CodeIndex) + protocol_methods(CodeStore):
        protocol = CodeIndex if method in vars(CodeIndex) else CodeStore
        assert getattr(protocol, method).__doc__, f"{protocol.__name__}.{method} has no docstring"


@pytest.mark.parametrize("name", list(CODE_STORES))
def test_every_registered_store_has_the_whole_interface(name):
    store = CODE_STORES[name]
    assert store.name == name and isinstance(store.strategies, bool) and store.requires
    for method in protocol_methods(CodeStore):
        assert parameters(getattr(type(store), method)) == parameters(getattr(CodeStore, method))
    for method in protocol_methods(CodeIndex):
        own = getattr(store.index_class, method, None)
        assert callable(own), f"{store.index_class.__name__} lacks {method}"
        assert parameters(own) == parameters(getattr(CodeIndex, method)), method
    assert "bits" in CodeIndex.__annotations__


def test_registry_lookups():
    assert store_of(None) is code_store(None) is CODE_STORES[DEFAULT_STORE]
    assert store_of({"name": DEFAULT_STORE}) is CODE_STORES[DEFAULT_STORE]
    with pytest.raises(SemhashError, match="unknown backend 'tape'; choose one of "):
        code_store("tape")


def test_a_lost_sidecar_finds_the_default_store_in_an_empty_folder(tmp_path):
    assert store_of(recovered_entry(tmp_path)) is CODE_STORES[DEFAULT_STORE]


def test_optional_stores_import_nothing_until_used():
    default = set(CODE_STORES[DEFAULT_STORE].requires)
    optional = sorted({p for s in CODE_STORES.values() for p in s.requires} - default)
    code = "import sys, semantic_hashing.indexer.backends; print(*sys.modules, sep='\\n')"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert optional and not set(optional) & set(out.stdout.split())


def usable(name: str) -> bool:
    return all(importlib.util.find_spec(p) is not None for p in CODE_STORES[name].requires)


@pytest.mark.parametrize("name", [n for n in CODE_STORES if usable(n)])
def test_each_store_through_a_collections_life(name, tmp_path):
    store = CODE_STORES[name]
    folder = tmp_path / "life.semhash"
    folder.mkdir()
    entry = store.entry(folder, None)
    assert entry["name"] == name
    db, q = seeded_codes(300, BITS, 0), seeded_codes(12, BITS, 1)
    ids = np.arange(5000, 5300, dtype=np.int64)[::-1].copy()
    index = store.create(BITS, store.resolved(entry, folder))
    index.add(db, ids)
    index.save(folder / INDEX)
    truth = brute_force_hamming(q, db)
    D, I = index.search(q, 10)
    for row in range(len(q)):
        assert np.array_equal(D[row], np.sort(truth[row])[:10])
        assert np.array_equal(truth[row, 5299 - I[row]], D[row])  # each id's own distance
    index.close()

    again = store.open(BITS, store.resolved(entry, folder), folder)
    assert len(again) == 300 and np.array_equal(np.sort(again.ids()), np.sort(ids))
    order = np.argsort(again.ids())
    assert np.array_equal(again.codes()[order], db[np.argsort(ids)])
    assert np.array_equal(again.codes_of(ids[[3, 0]]), db[[3, 0]])
    assert np.array_equal(again.reconstruct(ids[7]), db[7])
    ball = again.range_search(q[:1], 6)[0]
    assert set(ball[1].tolist()) == set(ids[truth[0] <= 6].tolist())
    assert again.remove(ids[:2]) == 2 and len(again) == 298
    assert store.found(folder) is not None and store.found(folder)["name"] == name
    emptied = store.emptied(again, BITS, folder)
    assert len(emptied) == 0 and emptied.bits == BITS
    emptied.close()
