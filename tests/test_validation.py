"""Every search and index knob is checked against the collection before FAISS or torch sees
it (these once hung, segfaulted, grew to 11 GB or ended in tracebacks); every target path
is checked before any work is done."""

from __future__ import annotations

import os

import pytest
from click.testing import CliRunner

from semantic_hashing.cli import cli
from semantic_hashing.indexer.pipeline import IndexOptions, index_folder
from semantic_hashing.indexer.store import Store
from semantic_hashing.indexer.strategies import StrategyParams
from semantic_hashing.query import search as s
from semantic_hashing.retrieval.errors import SemhashError

from .conftest import assert_user_error, make_corpus, make_image_folder


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


SEARCH_REFUSED = [
    (("--strategy", "hash", "--hash-radius", 10), "--hash-radius"),  # hung at 100% CPU
    (("--strategy", "hash", "--hash-radius", -1), "--hash-radius"),
    (("--strategy", "hash", "--hash-radius", 40), "--hash-radius"),
    (("--strategy", "hash", "--hash-bits", -3), "--hash-bits"),  # segfault
    (("--strategy", "hash", "--hash-bits", 17), "do not fit"),  # 16-bit codes
    (("--strategy", "hash", "--nhash", -1), "--nhash"),
    (("--strategy", "hash", "--nhash", 3, "--hash-bits", 8), "do not fit"),
    (("--strategy", "hnsw", "--hnsw-m", -4), "--hnsw-m"),  # grew to 11 GB
    (("--strategy", "hnsw", "--hnsw-m", 0), "--hnsw-m"),  # FAISS assertion abort
    (("--strategy", "hnsw", "--ef-search", 0), "--ef-search"),
    (("--strategy", "ivf", "--nlist", -5), "--nlist"),
    (("--strategy", "ivf", "--nlist", 500), "more cells than"),  # 120 items
    (("--strategy", "ivf", "--nprobe", 0), "--nprobe"),
    (("--nlist", -5), "--nlist"),  # nonsense is refused whatever the strategy
    (("-k", 0), "-k"),
    (("-k", -1), "-k"),
    (("-k", 10**12), "-k"),
    (("--radius", -1), "--radius"),
    (("--radius", 17), "--radius"),  # beyond the 16-bit code length
]


@pytest.mark.parametrize("args, words", SEARCH_REFUSED)
def test_search_knobs_refused(collection, args, words):
    result = run("search", collection, "--id", 0, *args)
    assert_user_error(result, words)


def test_knobs_checked_in_the_library(collection):
    """The Python API is protected too, not only the command line."""
    with pytest.raises(SemhashError, match="--hnsw-m"):
        StrategyParams(hnsw_m=-4).validate(16)
    with pytest.raises(SemhashError, match="--hash-radius"):
        StrategyParams(nflip=9).resolved("hash", 16, 120)
    with Store.open(collection) as coll:
        queries = s.id_queries(coll, [0])
        with pytest.raises(SemhashError, match="--hash-bits"):
            s.search(coll, queries, strategy="hash", params=StrategyParams(hash_bits=-3))
        D_ok = s.search(coll, queries, k=5, strategy="hash", params=StrategyParams(nflip=2))
        assert len(D_ok[0].results) == 5


def test_huge_k_on_hash_is_clamped_not_allocated(collection):
    with Store.open(collection) as coll:
        index = coll.search_index("hash", StrategyParams())
        D, I = index.search(coll.index.codes()[:2], 10**9)
        assert D.shape == I.shape == (2, 120)  # a lookup may find fewer: -1 beyond those
        assert set(I.ravel()) - {-1} <= set(coll.index.ids().tolist())


@pytest.mark.parametrize(
    "args, words",
    [(("--chunk-size", 0), "--chunk-size"), (("--bits", -3), "--bits"),
     (("--bits", 12), "--bits"), (("--vocab", 1), "--vocab"), (("--seed", -1), "--seed"),
     (("--image-size", -4), "--image-size"), (("--image-size", 6), "--image-size"),
     (("--epochs", 0), "--epochs")],
)  # fmt: skip
def test_index_options_refused_before_training(image_folder, tmp_path, args, words):
    result = run("index", image_folder, "-c", tmp_path / "c.semhash", *args)
    assert_user_error(result, words)
    assert not (tmp_path / "c.semhash").exists()


@pytest.mark.parametrize("args, words", [(("--limit", 0), "--limit"), (("--limit", -3), "--limit"),
                                         (("--seed", -1), "--seed")])  # fmt: skip
def test_evaluate_options_refused(collection, image_folder, args, words):
    assert_user_error(run("evaluate", collection, "--queries", image_folder, *args), words)


def test_sheet_checked_before_searching(collection, tmp_path):
    for sheet, words in ((tmp_path / "out.txt", "image extension"), (tmp_path, "is a folder"),
                         (tmp_path / "file" / "s.png", "not a writable folder")):  # fmt: skip
        (tmp_path / "file").write_text("a file, not a folder")
        result = run("search", collection, "--id", 0, "--sheet", sheet)
        assert_user_error(result, "--sheet", words)
        assert "query:" not in result.output  # refused before any result was printed


def test_train_refuses_to_replace_a_collections_model(collection, image_folder, tmp_path):
    before = (collection / "model.pt").read_bytes()
    result = run("train", image_folder, "--out", collection / "model.pt", "--bits", 16)
    assert_user_error(result, "inside the collection")
    assert (collection / "model.pt").read_bytes() == before
    assert_user_error(run("train", image_folder, "--out", tmp_path), "is a folder")


def test_wordless_documents_are_skipped_with_a_reason(tmp_path):
    folder = make_corpus(tmp_path / "docs", per_topic=10)
    (folder / "space" / "header-only").write_text("Subject: nothing\nLines: 0\n\n")
    coll = tmp_path / "t.semhash"
    first = run("index", folder, "-c", coll, "--bits", 16, "--epochs", 2)
    assert first.exit_code == 0, first.output
    (folder / "space" / "made-up").write_text("zorblax quendish flurmig wabbleton\n")
    again = run("index", folder, "-c", coll)
    for result, name in ((first, "header-only"), (again, "made-up")):
        line = next(
            ln for ln in result.stderr.splitlines() if ln.startswith("skipped") and name in ln
        )
        assert "no word of the model's vocabulary" in line, line
    assert "30 items in the collection" in again.output


def test_file_names_that_are_not_utf8(tmp_path, collection):
    """Stored, searched and removed by their own bytes; the folder indexes again cleanly."""
    folder = make_image_folder(tmp_path / "imgs", per_class=2)
    bad = os.fsdecode(b"bad\xff\xfe.png")
    os.rename(folder / "bars" / "bars-000.png", folder / "bars" / bad)
    odd_dir = folder / os.fsdecode(b"d\xe9")
    os.rename(folder / "columns", odd_dir)
    coll = tmp_path / "c.semhash"
    index_folder(folder, coll, IndexOptions(model_path=collection / "model.pt"))
    result = run("search", coll, "--query", folder / "bars" / bad, "-k", 1, "--json")
    assert result.exit_code == 0, result.output
    assert "bad\\udcff\\udcfe.png" in result.output  # JSON escapes of the raw bytes
    with Store.open(coll) as c:
        paths = {os.fsencode(r.path) for r in c.meta.get(c.index.ids().tolist()).values()}
    assert os.fsencode(folder / "bars" / bad) in paths
    again = run("index", folder, "-c", coll)
    assert "added 0, changed 0, unchanged 6" in again.output, again.output
    removed = run("remove", coll, "--path", odd_dir)
    assert removed.exit_code == 0 and "removed 2 items" in removed.output
    assert run("check", coll).exit_code == 0
