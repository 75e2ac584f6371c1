"""`semhash bench --task million` at small N: the files it writes, the planted copies found
by the real `dedup`, and every figure measured (not assumed) and consistent with the files."""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import pytest
from click.testing import CliRunner

from semantic_hashing.bench.million import FIGURES, MillionOptions, run_million
from semantic_hashing.bench.million_data import (
    N_TRANSFORMS,
    Plan,
    apply,
    describe,
    fashion_images,
    make_files,
)
from semantic_hashing.bench.million_jobs import folder_bytes, semhash
from semantic_hashing.cli import cli

N = 1500


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> tuple[dict, Path]:
    out = tmp_path_factory.mktemp("million")
    opts = MillionOptions(
        out=out, items=N, epochs=1, requests=200, backbone_images=8, milvus=False
    )  # its figures: tests/test_milvus_cli.py
    return run_million(opts), out


def test_every_figure_is_present_numeric_and_measured(run):
    report, out = run
    for key in FIGURES:
        value = report[key]
        values = value.values() if key == "bytes_per_item" else [value]
        assert all(isinstance(v, float) and math.isfinite(v) and v >= 0 for v in values), key
        if key not in ("bytes_per_item", "dedup_recall"):
            assert value > 0, key
    for key in ("index_s", "add_1k_s", "cli_search_s", "dedup_s", "outliers_s", "check_s",
                "remove_10k_s", "info_ms", "serve_p50_ms"):  # fmt: skip
        assert report["figures"][key]["load"] >= 0 and report["figures"][key]["cmd"], key
    assert report["serve_p50_ms"] <= report["serve_p99_ms"]
    assert report["serve_workers"] == report["machine"]["cores"]  # --workers: the cores
    assert f"--workers {report['serve_workers']}" in report["figures"]["serve_p50_ms"]["cmd"]
    one = report["serve_one_process"]  # the same searches against one process
    assert 0 < one["p50_ms"] <= one["p99_ms"] and one["throughput_rps"] > 0
    assert 0.05 < report["index_peak_gb"] < report["machine"]["ram_gb"]
    assert report["commit"] and report["date"] and report["machine"]["cores"] >= 1
    assert json.loads((out / "million.json").read_text()) == report


def test_counts_agree_with_the_collection(run):
    report, out = run
    coll = out / "million.semhash"
    assert report["items"] == N
    assert report["add_counts"]["added"] == 1000 and report["add_counts"]["changed"] == 0
    assert report["add_counts"]["unchanged"] == N  # nothing re-read
    assert report["items_after_add"] == N + 1000
    assert report["removed"] == N // 10
    listed = json.loads(semhash("info", str(coll), "--json").stdout)["items"]
    assert report["items_after_remove"] == listed == N + 1000 - N // 10
    per_item = report["bytes_per_item"]
    assert {"codes.index", "metadata.sqlite", "raw/"} <= set(per_item)
    assert sum(per_item.values()) * listed == pytest.approx(folder_bytes(coll), rel=1e-3)
    assert report["check_problems"] == 0


def test_planted_copies_are_found(run):
    report, out = run
    truth = json.loads((out / "planted.json").read_text())
    assert report["planted"] == len(truth) == Plan(N).planted
    assert {row["how"] for row in truth} == {"exact", "near"}
    root = out / "files"
    for row in truth:
        same = (root / row["original"]).read_bytes() == (root / row["copy"]).read_bytes()
        assert same == (row["how"] == "exact")
    assert report["dedup_recall"] >= 0.9


def test_files_are_distinct_real_images(run):
    _, out = run
    files = [p for p in (out / "files").rglob("*.*") if p.parent.name != "planted"]
    files = [p for p in files if ".done" not in p.parts and "added" not in p.parts]
    assert len(files) == Plan(N).distinct
    assert len({hashlib.sha256(p.read_bytes()).digest() for p in files}) == len(files)
    assert {p.suffix for p in files} == {".png", ".jpg"}
    model = json.loads((out / "million.semhash" / "collection.json").read_text())["model"]
    assert (model["channels"], model["image_size"]) == (3, 32)  # one colour collection


def test_variants_of_one_source_never_share_a_transform():
    image = fashion_images()[0]
    outs = {apply(image, t).tobytes() for t in range(N_TRANSFORMS)}
    assert len(outs) == N_TRANSFORMS
    seen = {describe(i, 0) for i in range(300_000)}  # every source comes round 2-3 times
    assert len(seen) == 300_000


def test_files_are_reused_and_resumed(tmp_path):
    plan = Plan(1200, seed=3)
    root, truth = make_files(tmp_path, plan)
    first = root / "fashion-mnist" / "s0000" / "0000000.png"
    stamp = first.stat().st_mtime_ns
    assert make_files(tmp_path, plan)[1] == truth and first.stat().st_mtime_ns == stamp
    (tmp_path / "files.json").unlink()  # as if killed: one folder lost its mark and a file
    (root / ".done" / "1000-1180").unlink()
    lost = root / "fashion-mnist" / "s0001" / "0001100.png"
    lost.unlink()
    make_files(tmp_path, plan)
    assert lost.exists() and first.stat().st_mtime_ns == stamp
    make_files(tmp_path, Plan(1100, seed=3))  # another N: written anew
    assert not lost.exists()


@pytest.mark.parametrize("args, says", [
    (["--items", "0"], "--items must be at least"),
    (["--items", "-5"], "--items must be at least"),
    (["--items", "lots"], "is not a size"),
])  # fmt: skip
def test_bad_options_end_in_one_sentence(tmp_path, args, says):
    result = CliRunner().invoke(cli, ["bench", "--task", "million", "--out", str(tmp_path), *args])
    assert result.exit_code != 0 and says in result.output
    assert "Traceback" not in result.output and not list(tmp_path.iterdir())


def test_an_unwritable_out_is_refused(tmp_path):
    (tmp_path / "file").write_text("")
    result = CliRunner().invoke(cli, ["bench", "--task", "million", "--items", "2000",
                                      "--out", str(tmp_path / "file" / "sub")])  # fmt: skip
    assert result.exit_code != 0 and "cannot write to --out" in result.output


def test_peak_memory_is_the_childs_own(run):
    """A job smaller than the bench process reports its own peak, not the bench's."""
    _, out = run
    import resource

    parent_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    info = semhash("info", str(out / "million.semhash"), "--json")
    assert 0.01 < info.peak_gb < min(0.3, parent_gb)
    assert info.cpu_s > 0
