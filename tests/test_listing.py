"""Which files a folder walk takes: hidden and junk folders, globs, symlinked folders."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from semantic_hashing.indexer.pipeline import index_folder
from semantic_hashing.retrieval.errors import SemhashError
from semantic_hashing.retrieval.images import list_image_files
from semantic_hashing.retrieval.text import list_documents
from semantic_hashing.retrieval.walk import LINK_NOT_FOLLOWED, LINK_SEEN, ListingRules

from .conftest import fast_options, pattern

SEMHASH = Path(sys.executable).parent / "semhash"  # the installed command


def png(path: Path, seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pattern(seed % 3, np.random.default_rng(seed))).save(path)
    return path


@pytest.fixture
def library(tmp_path):
    """A photo library with the usual clutter, and an album linked in from outside."""
    root = tmp_path / "lib"
    for n, rel in enumerate(["2019/a.png", "2019/b.png", "2020/c.png", "2020/raw/d.png",
                             ".hidden.png", ".secret/e.png", "@eaDir/a.png/thumb.png",
                             "__MACOSX/2019/._a.png", "2020/.thumbnails/c.png"]):  # fmt: skip
        png(root / rel, n)
    outside = tmp_path / "album"
    png(outside / "f.png", 20)
    png(outside / "inner" / "g.png", 21)
    (root / "linked").symlink_to(outside)
    (outside / "back").symlink_to(root)  # a loop once links are followed
    (root / "2020" / "again").symlink_to(root / "2019")  # a second way to the same folder
    return root


def names(listing, root):
    return [p.relative_to(root).as_posix() for p in listing.paths]


def test_default_skips_hidden_and_junk_counts_them_and_lists_links(library):
    got = list_image_files(library)
    assert names(got, library) == ["2019/a.png", "2019/b.png", "2020/c.png", "2020/raw/d.png"]
    assert got.left_out == {"hidden files": 1, "hidden folders": 1, "junk folders": 3}
    assert sorted((Path(p).relative_to(library).as_posix(), r) for p, r in got.skipped) == [
        ("2020/again", LINK_NOT_FOLLOWED),
        ("linked", LINK_NOT_FOLLOWED),
    ]


def test_include_hidden_takes_everything(library):
    got = list_image_files(library, ListingRules(include_hidden=True))
    assert len(got.paths) == 9 and not got.left_out


def test_exclude_and_include_globs(library):
    got = list_image_files(library, ListingRules(exclude=("raw", "2019/b.png")))
    assert names(got, library) == ["2019/a.png", "2020/c.png"]
    assert got.left_out["excluded folders"] == 1 and got.left_out["excluded files"] == 1
    got = list_image_files(library, ListingRules(include=("2020/*",)))
    assert names(got, library) == ["2020/c.png", "2020/raw/d.png"]
    assert got.left_out["not included files"] == 2
    with pytest.raises(SemhashError, match="empty"):
        ListingRules(exclude=(" ",))


def test_follow_links_enters_each_real_folder_once(library):
    got = list_image_files(library, ListingRules(follow_links=True))
    assert names(got, library) == ["2019/a.png", "2019/b.png", "2020/c.png", "2020/raw/d.png",
                                   "linked/f.png", "linked/inner/g.png"]  # fmt: skip
    reasons = {Path(p).relative_to(library).as_posix(): r for p, r in got.skipped}
    assert reasons == {"2020/again": LINK_SEEN, "linked/back": LINK_SEEN}


def test_text_folders_follow_the_same_rules(tmp_path):
    for rel in ["a.txt", "notes/b.txt", ".git/c.txt", "__MACOSX/d.txt", "drafts/e.txt"]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("words about things\n")
    rules = ListingRules(exclude=("drafts",))
    got = [p.relative_to(tmp_path).as_posix() for p in list_documents(tmp_path, rules)]
    assert got == ["a.txt", "notes/b.txt"]
    assert len(list_documents(tmp_path, ListingRules(include_hidden=True))) == 5


def test_index_reports_left_out_and_links_then_follows_them(library, tmp_path, collection):
    opts = fast_options()
    opts.model_path = collection / "model.pt"
    report = index_folder(library, tmp_path / "c.semhash", opts)
    assert report.added == 4 and report.left_out["junk folders"] == 3
    assert {r for _, r in report.skipped} == {LINK_NOT_FOLLOWED}
    opts.listing = ListingRules(follow_links=True)
    report = index_folder(library, tmp_path / "c.semhash", opts)
    assert (report.added, report.unchanged) == (2, 4)  # the linked album, stored once


def test_cli_listing_options_and_summary(library, tmp_path, collection):
    out = subprocess.run(
        [str(SEMHASH), "index", str(library), "-c", str(tmp_path / "c.semhash"), "--model",
         str(collection / "model.pt"), "--exclude", "raw", "--follow-links", "--workers", "2",
         "-q"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "added 5," in out.stdout
    assert "left out by rule: excluded folders 1, hidden files 1" in out.stdout
    assert "photos/s on 2 workers" in out.stdout
    assert "symlinked folder already listed" in out.stderr
    bad = subprocess.run([str(SEMHASH), "index", str(library), "-c", str(tmp_path / "d"),
                          "--workers", "0"], capture_output=True, text=True)  # fmt: skip
    assert bad.returncode == 1 and "Error: --workers must be" in bad.stderr
    assert "Traceback" not in bad.stderr and not (tmp_path / "d").exists()


def _live_paths(coll: Path) -> set[str]:
    from semantic_hashing.indexer.store import Store

    with Store.open(coll) as store:
        return set(store.meta.live())


def test_prune_forgets_the_outside_item_of_a_removed_file_link(tmp_path, collection):
    root, outside = tmp_path / "lib", png(tmp_path / "elsewhere" / "o.png", 7)
    png(root / "a.png", 1), png(root / "sub" / "b.png", 2)
    (root / "sub" / "link.png").symlink_to(outside)
    coll, opts = tmp_path / "c.semhash", fast_options()
    opts.model_path, opts.prune = collection / "model.pt", True
    index_folder(root, coll, opts)
    assert str(outside.resolve()) in _live_paths(coll)  # stored under its real path
    index_folder(root, coll, opts)  # unchanged, link still there: kept
    assert str(outside.resolve()) in _live_paths(coll)
    (root / "sub" / "link.png").unlink()
    report = index_folder(root, coll, opts)
    assert report.removed == 1 and str(outside.resolve()) not in _live_paths(coll)
    assert _live_paths(coll) == {str((root / "a.png").resolve()),
                                 str((root / "sub" / "b.png").resolve())}  # fmt: skip


def test_prune_of_one_folder_keeps_what_another_folder_links(tmp_path, collection):
    outside = png(tmp_path / "elsewhere" / "o.png", 7)
    one, two = tmp_path / "one", tmp_path / "two"
    png(one / "a.png", 1), png(two / "b.png", 2)
    (two / "link.png").symlink_to(outside)
    coll, opts = tmp_path / "c.semhash", fast_options()
    opts.model_path, opts.prune = collection / "model.pt", True
    index_folder(two, coll, opts)
    report = index_folder(one, coll, opts)  # the other folder's link is not this one's
    assert report.removed == 0 and str(outside.resolve()) in _live_paths(coll)
    (two / "link.png").unlink()
    (two / "link.png").symlink_to(png(tmp_path / "elsewhere" / "p.png", 8))  # now elsewhere
    report = index_folder(two, coll, opts)
    assert str(outside.resolve()) not in _live_paths(coll)
    assert str((tmp_path / "elsewhere" / "p.png").resolve()) in _live_paths(coll)
