"""One owner per parameter: the code length has one default and one check; search options
(k, radius, baseline, strategy and its knobs) one dataclass, one MAX_K and one check; each
refused in one sentence by every entry point."""

import pytest
from click.testing import CliRunner

import semantic_hashing as sh
from semantic_hashing.bench.hashing import HASHERS
from semantic_hashing.bench.options import parse_bits
from semantic_hashing.cli import cli
from semantic_hashing.indexer.api import index_options
from semantic_hashing.indexer.strategies import StrategyParams
from semantic_hashing.query.options import DEFAULT_K, MAX_K, SearchOptions
from semantic_hashing.retrieval.errors import SemhashError
from semantic_hashing.retrieval.fitting import TrainSpec
from semantic_hashing.retrieval.models import ModelConfig
from semantic_hashing.retrieval.params import DEFAULT_BITS, check_bits

BAD_BITS = "--bits must be a multiple of 8 from 8 to 1024, not 12."


def test_one_default_code_length():
    assert ModelConfig().bits == TrainSpec().bits == index_options().spec.bits == DEFAULT_BITS
    options = {p.name: p for p in cli.get_command(None, "index").params}
    assert options["bits"].default == DEFAULT_BITS


@pytest.mark.parametrize("bits", [12, 0, -8, 1032, 8.0, True, "64"])
def test_check_bits_refuses_what_cannot_be_a_code_length(bits):
    with pytest.raises(SemhashError, match=r"^--bits must be a multiple of 8 from 8 to 1024, not "):
        check_bits(bits)
    assert check_bits(8) == 8 and check_bits(1024) == 1024


def test_every_entry_point_refuses_bad_bits_with_one_sentence(tmp_path):
    refusals = [
        lambda: ModelConfig(bits=12).validate(),
        lambda: sh.index(tmp_path, tmp_path / "c.semhash", bits=12),
        lambda: parse_bits("16,12"),
        lambda: HASHERS["lsh"](12),
    ]
    for refuse in refusals:
        with pytest.raises(SemhashError) as caught:
            refuse()
        assert str(caught.value) == BAD_BITS
    args = ["index", str(tmp_path), "-c", str(tmp_path / "c"), "--bits", "12"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1 and BAD_BITS in result.output


# -- search options: one owner, one MAX_K, one sentence from every front end -------------
def test_one_default_k_and_one_max_k():
    from semantic_hashing.query import search as search_mod
    from semantic_hashing.server import routes

    assert SearchOptions().k == DEFAULT_K and SearchOptions(k=None).top == DEFAULT_K
    assert not hasattr(search_mod, "MAX_K") and not hasattr(routes, "MAX_K")
    assert routes.MAX_PAGE < MAX_K  # the web API's page limit, named as such
    assert routes.SearchRequest.model_fields["k"].default == DEFAULT_K
    options = {p.name: p for p in cli.get_command(None, "search").params}
    assert f"default: {DEFAULT_K}" in options["k"].help


@pytest.mark.parametrize(
    "how, sentence",
    [
        ({"k": 0}, "-k must be from 1 to 1,000,000, not 0."),
        ({"k": MAX_K + 1}, "-k must be from 1 to 1,000,000, not 1000001."),
        ({"k": 2.5}, "-k must be from 1 to 1,000,000, not 2.5."),
        ({"radius": -1}, "--radius must be from 0 to 16 (the code length), not -1."),
        ({"radius": 17}, "--radius must be from 0 to 16 (the code length), not 17."),
        ({"baseline": "pixels"}, "unknown baseline 'pixels'; choose one of raw, features."),
        ({"strategy": "kdtree"}, "unknown strategy 'kdtree'; choose one of flat, hash, ivf, hnsw."),
        ({"radius": 2, "strategy": "hnsw"},
         "--radius needs the flat, hash or ivf strategy, not hnsw."),
        ({"radius": 2, "baseline": "raw"}, "--radius applies to codes only, not to --baseline."),
        ({"asymmetric": True, "baseline": "raw"},
         "--asymmetric re-ranks codes; it does not apply to --baseline."),
        ({"params": StrategyParams(hnsw_m=-4)},
         "--hnsw-m must be an integer from 2 to 256, not -4."),
        ({"params": StrategyParams(nhash=17)}, "--nhash must be an integer from 0 to 16, not 17."),
        ({"color": "red"}, "unknown search option 'color'; the options are k, radius, baseline, "
                           "strategy, params, asymmetric, rerank_short."),
    ],
)  # fmt: skip
def test_search_options_are_checked_in_one_place(how, sentence):
    with pytest.raises(SemhashError) as caught:
        SearchOptions.of(**how).validate(16)
    assert str(caught.value) == sentence


def test_options_that_depend_on_the_collection_are_checked_against_it(collection):
    with sh.open(collection) as coll:
        SearchOptions(radius=16).check(coll.store)
        with pytest.raises(SemhashError, match="more cells than the 120 items"):
            SearchOptions(strategy="ivf", params=StrategyParams(nlist=500)).check(coll.store)


# (API keywords, CLI arguments, JSON body or None where the JSON API has no such field,
#  the JSON API's status: 422 for a value no collection takes, 400 for one this one refuses)
SAME_SENTENCE = [
    ({"k": 0}, ["-k", 0], {"k": 0}, 422),
    ({"radius": -1}, ["--radius", -1], {"radius": -1}, 422),
    ({"radius": 17}, ["--radius", 17], {"radius": 17}, 400),
    ({"radius": 2, "strategy": "hnsw"}, ["--radius", 2, "--strategy", "hnsw"],
     {"radius": 2, "strategy": "hnsw"}, 400),
    ({"strategy": "hash", "params": StrategyParams(nflip=40)},
     ["--strategy", "hash", "--hash-radius", 40], None, None),
    ({"strategy": "ivf", "params": StrategyParams(nlist=500)},
     ["--strategy", "ivf", "--nlist", 500], None, None),
]  # fmt: skip


def test_bad_options_get_one_sentence_from_the_api_the_cli_and_the_json_api(collection):
    from fastapi.testclient import TestClient

    from semantic_hashing.server import create_app

    with sh.open(collection) as coll, TestClient(create_app([collection])) as client:
        for how, args, body, status in SAME_SENTENCE:
            with pytest.raises(SemhashError) as caught:
                coll.search(id=3, **how)
            sentence = str(caught.value)
            result = CliRunner().invoke(cli, ["search", str(collection), "--id", "3",
                                              *map(str, args)])  # fmt: skip
            assert result.exit_code == 1 and f"Error: {sentence}\n" in result.output
            if body is not None:
                resp = client.post(f"/api/collections/{coll.name}/search", json={"id": 3, **body})
                assert resp.status_code == status
                assert resp.json()["detail"].endswith(sentence)
