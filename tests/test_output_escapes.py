"""Plain-text output escapes control characters in file names (a newline cannot break a
line, an escape sequence cannot reach the terminal); --json keeps names exact."""

import json
import shutil

import pytest

from semantic_hashing.retrieval.fsutil import printable

from .conftest import make_image_folder, run

EVIL = "evil\nname\x1b[31mred\t.png"
SHOWN = "evil\\nname\\x1b[31mred\\t.png"


def test_printable_escapes_c0_del_and_c1_only():
    assert printable("a\nb\tc\rd\x1b[0m\x00\x7f\x9bé ü/x") == (
        "a\\nb\\tc\\rd\\x1b[0m\\x00\\x7f\\x9bé ü/x"
    )


@pytest.fixture(scope="module")
def evil(tmp_path_factory, collection):
    root = tmp_path_factory.mktemp("evil")
    folder = make_image_folder(root / "imgs", per_class=4, seed=3)
    shutil.copy(folder / "bars" / "bars-000.png", folder / "bars" / EVIL)  # an exact copy
    coll = root / "c\x1b[31m.semhash"
    run("index", folder, "-c", coll, "--model", collection / "model.pt", "-q")
    return folder, coll


def assert_escaped(text: str) -> None:
    assert SHOWN in text, text
    assert "\x1b" not in text and "\nname" not in text and "\t" not in text


def test_search_dedup_outliers_print_escaped_names(evil):
    folder, coll = evil
    query = folder / "bars" / "bars-000.png"
    assert_escaped(run("search", coll, "--query", query, "-k", 30).output)
    assert_escaped(run("search", coll, "--query", query, "-k", 30, "--paths").output)
    assert_escaped(run("search", coll, "--query", folder / "bars" / EVIL, "-k", 1).output)
    assert_escaped(run("dedup", coll, "-q").output)
    assert_escaped(run("dedup", coll, "--paths", "-q").output)
    assert_escaped(run("outliers", coll, "--top", 100).output)


def test_json_keeps_the_names_exact(evil):
    folder, coll = evil
    out = run("search", coll, "--query", folder / "bars" / "bars-000.png", "-k", 30, "--json")
    paths = [h["path"] for h in json.loads(out.output)["results"]]
    assert str(folder / "bars" / EVIL) in paths
    groups = [json.loads(line) for line in run("dedup", coll, "--json", "-q").output.splitlines()]
    assert str(folder / "bars" / EVIL) in [d["path"] for g in groups for d in g["duplicates"]]


def test_check_and_remove_print_escaped_names(evil, tmp_path):
    folder, coll = evil
    copy = tmp_path / coll.name
    shutil.copytree(coll, copy)
    out = run("check", copy).output
    assert "c\\x1b[31m.semhash: " in out and "\x1b" not in out
    out = run("remove", copy, "--path", folder / "bars" / EVIL).output
    assert out.strip() == f"removed 1 items from {printable(copy)}" and "\x1b" not in out
    moved = tmp_path / "moved"
    out = run("dedup", copy, "--move-to", moved, "-q")
    assert "\x1b" not in out.output
    missing = run("remove", copy, "--path", folder / "none\x1b[1m", ok=False)
    assert missing.exit_code == 1 and "none\\x1b[1m" in missing.output
    assert "\x1b" not in missing.output
