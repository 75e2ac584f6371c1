"""`semhash search --strategy` through click's CliRunner, on the tiny shared collection."""

import json

import pytest

from .conftest import assert_user_error, run


def results(collection, *extra):
    out = run("search", collection, "--id", 3, "--id", 77, "-k", 8, "--json", "-q", *extra)
    return [json.loads(line) for line in out.output.strip().splitlines()]


@pytest.mark.parametrize(
    "extra",
    [
        ("--strategy", "hash", "--nhash", 2, "--hash-bits", 8, "--hash-radius", 8),
        ("--strategy", "ivf", "--nprobe", 4096),
        ("--strategy", "hnsw", "--ef-search", 200),
    ],
)
def test_strategies_agree_with_flat_on_a_tiny_collection(collection, extra):
    flat = results(collection, "--strategy", "flat")
    other = results(collection, *extra)
    # hash with every address within 8 flipped bits and ivf probing every cell are exact;
    # hnsw over 120 items with a wide beam is too. Ties may swap ids, never distances.
    for a, b in zip(flat, other, strict=True):
        assert [h["distance"] for h in a["results"]] == [h["distance"] for h in b["results"]]
        assert set(b["results"][0]) == set(a["results"][0])
        assert b["results"][0]["distance"] == 0


def test_secondary_index_files_are_kept_in_the_collection(collection):
    results(collection, "--strategy", "hash")
    info = json.loads((collection / "codes.hash.json").read_text())
    assert info["count"] == 120 and (collection / "codes.hash.index").is_file()


def test_default_strategy_is_flat_for_small_collections(collection):
    assert results(collection) == results(collection, "--strategy", "flat")


def test_radius_with_hnsw_is_refused(collection):
    result = run("search", collection, "--id", 3, "--radius", 2, "--strategy", "hnsw", ok=False)
    assert_user_error(result, "hnsw")


def test_strategy_and_backend_choices_come_from_the_registries():
    from semantic_hashing.cli import cli
    from semantic_hashing.indexer.backends import CODE_STORES
    from semantic_hashing.indexer.strategies import STRATEGIES
    from semantic_hashing.server.routes import SearchRequest

    options = {p.name: p for p in cli.get_command(None, "search").params}
    assert list(options["strategy"].type.choices) == list(STRATEGIES)
    assert list(options["backend"].type.choices) == list(CODE_STORES)
    schema = SearchRequest.model_json_schema()["properties"]["strategy"]["anyOf"][0]
    assert schema["enum"] == list(STRATEGIES)
    assert_user_error(run("search", "x.semhash", "--strategy", "kdtree", ok=False), "flat")
