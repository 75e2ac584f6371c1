"""The indexing benchmark on a tiny photo set: reproducible photos, one row per run."""

import hashlib

import pytest

from semantic_hashing.bench import indexing as bench_indexing
from semantic_hashing.bench import photos as bench_photos
from semantic_hashing.bench.indexing import IndexingBenchOptions, as_table, run_indexing_bench
from semantic_hashing.bench.photos import PhotoSet, make_photo_folder

TINY = PhotoSet("jpeg-6mp", 300, 200, "JPEG", ".jpg", 1.0)  # the main set, made small


def digests(folder):
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*.jpg"))}  # fmt: skip


def test_photo_folder_is_reproducible(tmp_path):
    a = make_photo_folder(tmp_path / "a", TINY, 6, seed=3)
    b = make_photo_folder(tmp_path / "b", TINY, 6, seed=3)
    assert digests(a) == digests(b) and len(digests(a)) == 6
    assert digests(make_photo_folder(tmp_path / "c", TINY, 6, seed=4)) != digests(a)


@pytest.mark.slow  # fresh processes import torch: about 20 s
def test_indexing_bench_reports_each_run(tmp_path, monkeypatch):
    monkeypatch.setattr(bench_indexing, "SETS", {"jpeg-6mp": TINY})
    monkeypatch.setattr(bench_photos, "SETS", {"jpeg-6mp": TINY})
    opts = IndexingBenchOptions(out=tmp_path, photos=10, sets=("jpeg-6mp",), workers=(2,),
                                train_images=64)  # fmt: skip
    report = run_indexing_bench(opts)
    runs = {r["set"]: r for r in report["runs"]}
    assert runs["jpeg-6mp"]["added"] == 10 and runs["jpeg-6mp x20"]["added"] == 20
    for r in runs.values():
        assert r["again_added"] == 0 and r["skipped"] == 0 and r["peak_mb"] > 0
        assert r["photos_per_s_net"] > 0 and r["code"].startswith(str(bench_indexing.HERE))
    assert set(report["reader_pool"]) == {"1 worker (1)", "threads (2)", "processes (2)"}
    table = as_table(report)
    assert table.count("| after | jpeg-6mp") == 2 and (tmp_path / "indexing-table.md").exists()
