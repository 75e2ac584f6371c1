"""The command line as people use it, run as the installed `semhash` where it matters: the
raw baseline beside the codes' results, labels whole, `--paths` for piping, no progress
bar or INFO line that is not progress on real work, sheets with nothing to draw, the
training estimate, and reviewed selections (`--selection`) for dedup and outliers."""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import semantic_hashing as sh
from semantic_hashing.indexer.pipeline import index_folder
from semantic_hashing.query import api

from .conftest import fast_options, make_image_folder

LONG = "a-label-much-longer-than-sixteen-characters"


def semhash(*args, ok=True):
    exe = Path(sys.executable).parent / "semhash"
    if not exe.exists():
        pytest.skip("the semhash command is not installed in this environment")
    res = subprocess.run([str(exe), *map(str, args)], capture_output=True, text=True, timeout=600)
    if ok:
        assert res.returncode == 0, res.stderr
    return res


@pytest.fixture(scope="module")
def labelled(tmp_path_factory, collection):
    """A small collection (the tiny collection's model) whose labels are long."""
    root = tmp_path_factory.mktemp("long")
    folder = make_image_folder(root / "imgs", per_class=4, seed=3)
    (folder / "bars").rename(folder / LONG)
    opts = fast_options()
    opts.model_path = collection / "model.pt"
    path = root / "long.semhash"
    index_folder(folder, path, opts)
    return path


def test_baseline_is_shown_beside_the_codes(collection):
    res = semhash("search", collection, "--id", 3, "-k", 4, "--baseline", "raw")
    lines = res.stdout.splitlines()
    assert "hamming (codes)" in lines[1] and "raw-l2 (baseline)" in lines[1]
    rows = lines[3:]
    assert len(rows) == 4 and all(len(r.split()) >= 9 for r in rows)  # both sides on a row
    first = rows[0].split()
    assert first[1] == "3" and first[2] == "0"  # the codes' first: itself at distance 0
    with api.open(collection) as coll:
        raw = coll.search(id=3, k=4, baseline="raw").results
    assert [r.split()[-4] for r in rows] == [str(h.id) for h in raw]  # the baseline's ids


def test_labels_are_whole(labelled):
    res = semhash("search", labelled, "--id", 0, "-k", 3)
    assert LONG in res.stdout
    out = semhash("outliers", labelled, "--top", 12)
    assert LONG in out.stdout


def test_paths_one_a_line(collection, tmp_path):
    res = semhash("search", collection, "--id", 3, "-k", 5, "--paths")
    with api.open(collection) as coll:
        want = [h.path for h in coll.search(id=3, k=5).results]
        groups = coll.dedup()
        worst = [o.path for o in coll.outliers(4)]
    assert res.stdout.splitlines() == want and res.stderr == ""
    dups = semhash("dedup", collection, "--paths", "-q").stdout.splitlines()
    assert dups == [d.path for g in groups for d in g.duplicates] and dups
    assert not {g.keep.path for g in groups} & set(dups)  # never the kept items
    assert semhash("outliers", collection, "--top", 4, "--paths").stdout.splitlines() == worst
    both = semhash("search", collection, "--id", 3, "--paths", "--json", ok=False)
    assert both.returncode == 1 and "--json or --paths" in both.stderr


def test_a_one_file_query_shows_no_progress(collection):
    with api.open(collection) as coll:
        query = coll.item(5)["path"]
    res = semhash("search", collection, "--query", query, "-k", 3)
    assert res.stderr == "", res.stderr  # no bar for one file, one batch
    assert len(res.stdout.splitlines()) == 5


def test_index_reports_a_skipped_file_once_and_no_epoch_lines(tmp_path):
    folder = make_image_folder(tmp_path / "imgs", per_class=4, seed=9)
    (folder / "bars" / "broken.png").write_bytes(b"not a png")
    res = semhash("index", folder, "-c", tmp_path / "c.semhash", "--bits", 16, "--epochs", 3)
    err = res.stderr.replace("\r", "\n")
    assert err.count("broken.png") == 1 and "skipped" in err
    assert "epoch 1/3" not in err and " took " not in err
    verbose = semhash("index", folder, "-c", tmp_path / "d.semhash", "--bits", 16, "--epochs",
                      2, "-v")  # fmt: skip
    assert "epoch 1/2" in verbose.stderr  # per-epoch lines are there with -v


def test_training_says_how_long_it_will_take(caplog):
    from semantic_hashing.retrieval import training

    def said(steps):
        ticks = iter(range(0, 100, 2))  # each step "takes" 2 s
        estimate = training._Estimate(steps, clock=lambda: float(next(ticks)))
        caplog.clear()
        with caplog.at_level(logging.INFO, logger=training.__name__):
            for step in range(1, 8):
                estimate.step(step)
        return [r.getMessage() for r in caplog.records]

    lines = said(600)
    assert len(lines) == 1 and "about 20 min (600 steps at 2.00 s each)" in lines[0]
    assert "--epochs 1" in lines[0]
    assert said(10) == []  # 20 s: not worth a line


def test_progress_can_be_silenced_from_python():
    from semantic_hashing.retrieval import progress

    assert "set_progress" in sh.__all__
    try:
        sh.set_progress(False)
        assert progress.progress(range(5)).disable
    finally:
        sh.set_progress(True)
    assert not progress.progress(range(5)).disable
    assert progress.progress(range(1)).disable  # a single step is never a bar


def test_a_sheet_with_nothing_to_show_is_a_sentence(collection, tmp_path):
    sheet = tmp_path / "groups.png"
    res = semhash("dedup", collection, "--threshold", 1.0, "--verify", "raw", "--sheet", sheet,
                  "-q")  # fmt: skip
    assert "no duplicate groups to draw" in res.stderr and not sheet.exists()
    drawn = semhash("dedup", collection, "--sheet", sheet, "-q")
    assert drawn.returncode == 0 and sheet.stat().st_size > 1000


def selection(coll, job, **body):
    return {"semhash_selection": 1, "job": job,
            "model_fingerprint": coll.info()["model_fingerprint"], **body}  # fmt: skip


def test_dedup_acts_only_on_the_selection(tmp_path, collection):
    folder = make_image_folder(tmp_path / "imgs", per_class=6, seed=11)
    opts = fast_options()
    opts.model_path = collection / "model.pt"
    path = tmp_path / "sel.semhash"
    for f in sorted(folder.rglob("*.png"))[:3]:  # exact copies: certain groups
        shutil.copy(f, f.with_name("copy-" + f.name))
    index_folder(folder, path, opts)
    with api.open(path) as coll:
        groups = coll.dedup()
        assert len(groups) >= 2
        chosen = groups[0]
        picked = chosen.duplicates[:1]
        data = selection(coll, "dedup",
                         groups=[{"keep": chosen.keep.id, "duplicates": [picked[0].id]}],
                         sha256={str(m.id): coll.item(m.id)["sha256"] for m in
                                 (chosen.keep, *picked)})  # fmt: skip
    sel = tmp_path / "sel.json"
    sel.write_text(json.dumps(data))
    listed = semhash("dedup", path, "--selection", sel, "--json", "-q").stdout.splitlines()
    assert len(listed) == 1
    got = json.loads(listed[0])
    assert got["keep"]["id"] == chosen.keep.id
    assert [d["id"] for d in got["duplicates"]] == [picked[0].id]
    target = tmp_path / "moved"
    res = semhash("dedup", path, "--selection", sel, "--move-to", target)
    moved = [p for p in target.rglob("*") if p.is_file()]
    assert [p.name for p in moved] == [Path(picked[0].path).name]  # that one file only
    assert "removed 1 moved items" in res.stdout
    again = semhash("dedup", path, "--selection", sel, ok=False)  # it is gone now
    assert again.returncode == 1 and "no longer in" in again.stderr


BAD_SELECTIONS = [
    ("not json", "is not a JSON file"),
    ("[]", "is not a semhash selection"),
    ('{"semhash_selection": 1, "job": "outliers", "model_fingerprint": "x", "items": [1]}',
     "not for `semhash dedup`"),
    ('{"semhash_selection": 1, "job": "dedup", "model_fingerprint": "x", "groups": []}',
     "selects no duplicate group"),
    ('{"semhash_selection": 1, "job": "dedup", "model_fingerprint": "x", '
     '"groups": [{"keep": 1, "duplicates": [1]}]}', "names id 1 twice"),
    ('{"semhash_selection": 1, "job": "dedup", "model_fingerprint": "x", '
     '"groups": [{"keep": -4, "duplicates": [1]}]}', "needs a kept id"),
    ('{"semhash_selection": 1, "job": "dedup", "model_fingerprint": "x", '
     '"groups": [{"keep": 0, "duplicates": [1]}]}', "another model"),
]  # fmt: skip


@pytest.mark.parametrize("text,words", BAD_SELECTIONS)
def test_bad_selections_are_one_sentence(collection, tmp_path, text, words):
    sel = tmp_path / "s.json"
    sel.write_text(text)
    res = semhash("dedup", collection, "--selection", sel, ok=False)
    assert res.returncode == 1 and words in res.stderr and "Traceback" not in res.stderr


def test_selection_refuses_stale_items_and_finding_options(collection, tmp_path):
    with api.open(collection) as coll:
        stale = selection(coll, "dedup", groups=[{"keep": 0, "duplicates": [5]}],
                          sha256={"5": "0" * 64})  # fmt: skip
        gone = selection(coll, "outliers", items=[99999])
        fine = selection(coll, "outliers", items=[7, 2])
        paths = [coll.item(i)["path"] for i in (7, 2)]
    for body, words in ((stale, "changed since the selection was made"), (gone, "no longer in")):
        sel = tmp_path / "s.json"
        sel.write_text(json.dumps(body))
        job = body["job"]
        res = semhash(job, collection, "--selection", sel, ok=False)
        assert res.returncode == 1 and words in res.stderr, res.stderr
    sel.write_text(json.dumps(stale))
    res = semhash("dedup", collection, "--selection", sel, "--threshold", "0.5", ok=False)
    assert res.returncode == 1 and "--threshold applies to finding them" in res.stderr
    sel.write_text(json.dumps(fine))
    assert semhash("outliers", collection, "--selection", sel, "--paths").stdout.split() == paths
