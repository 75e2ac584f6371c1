"""Every id on the command line is range-checked: negative, past 2**63-1 or not an integer
is one sentence and a non-zero exit, never a traceback, and nothing is removed."""

import shutil

import pytest

from semantic_hashing.indexer.store import Store

from .conftest import assert_user_error, run

BAD = {
    "-1": "-1 is not in the range 0<=x<=9223372036854775807",
    str(2**63): f"{2**63} is not in the range",
    "99999999999999999999": "99999999999999999999 is not in the range",
    "abc": "'abc' is not a valid item id",
    "1e3": "'1e3' is not a valid item id",
    "": "'' is not a valid item id",
}
COMMANDS = [("search",), ("remove",), ("reconstruct",)]


@pytest.mark.parametrize("value", list(BAD))
@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
def test_a_bad_id_is_one_sentence(tmp_path, collection, command, value):
    copy = tmp_path / "c.semhash"
    shutil.copytree(collection, copy)
    with Store.open(copy) as store:
        before = len(store.index)
    result = run(*command, copy, "--id", value, ok=False)
    assert_user_error(result, "Invalid value for '--id'", BAD[value])
    assert result.exit_code == 2 and result.output.count("Error:") == 1
    with Store.open(copy) as store:
        assert len(store.index) == before


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
def test_the_largest_id_is_checked_against_the_collection(collection, command, tmp_path):
    copy = tmp_path / "c.semhash"
    shutil.copytree(collection, copy)
    result = run(*command, copy, "--id", str(2**63 - 1), ok=False)
    assert_user_error(result, f"id {2**63 - 1} is not in")
    assert result.exit_code == 1


def test_the_python_api_answers_an_id_out_of_range_in_one_sentence(collection):
    import semantic_hashing as sh
    from semantic_hashing.retrieval.errors import SemhashError

    with sh.open(collection) as coll:
        for bad in (-5, 2**63, 2**70):
            with pytest.raises(SemhashError, match=f"id {bad} is not in"):
                coll.search(id=bad)
