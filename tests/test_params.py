"""One owner per parameter: the code length has one default and one check, refused in one
sentence by every entry point."""

import pytest
from click.testing import CliRunner

import semantic_hashing as sh
from semantic_hashing.bench.hashing import HASHERS
from semantic_hashing.bench.retrieval import parse_bits
from semantic_hashing.cli import cli
from semantic_hashing.indexer.api import index_options
from semantic_hashing.retrieval.errors import SemhashError
from semantic_hashing.retrieval.models import ModelConfig
from semantic_hashing.retrieval.params import DEFAULT_BITS, check_bits
from semantic_hashing.retrieval.sources import TrainSpec

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
