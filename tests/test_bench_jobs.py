"""The job benchmarks' building blocks: the seeded near-duplicate set and its scores."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from semantic_hashing.bench.cli import _classes
from semantic_hashing.bench.dedup_data import build_near_duplicates, group_pairs, pair_scores
from semantic_hashing.bench.outliers import auroc, precision_at_top


def test_near_duplicate_set_is_seeded_and_complete(tmp_path):
    src = tmp_path / "src" / "cls"
    src.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(30):
        Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(src / f"{i}.jpg")
    a = build_near_duplicates(tmp_path / "src", tmp_path / "a", n_originals=8, seed=3)
    b = build_near_duplicates(tmp_path / "src", tmp_path / "b", n_originals=8, seed=3)
    assert a.groups == b.groups and a.transforms == b.transforms
    assert len(a.groups) == 8 and all(2 <= len(g) <= 4 for g in a.groups)
    files = {p.name for p in a.folder.iterdir()}
    assert len(files) == 30 + sum(len(g) - 1 for g in a.groups)
    assert {n for g in a.groups for n in g} <= files
    assert all(t and set(t) <= {"crop", "rescale", "tone", "jpeg"} for t in a.transforms.values())
    for name, t in a.transforms.items():  # JPEG copies are JPEG files, the others PNG
        assert name.endswith(".jpg") == ("jpeg" in t)
    again = build_near_duplicates(tmp_path / "src", tmp_path / "a", n_originals=8, seed=3)
    assert again.groups == a.groups  # reused from truth.json
    assert json.loads((tmp_path / "a" / "truth.json").read_text())["seed"] == 3
    fewer = build_near_duplicates(tmp_path / "src", tmp_path / "a", n_originals=5, seed=3)
    assert len(fewer.groups) == 5  # other settings: made again, not the old set reused
    assert len(list(fewer.folder.iterdir())) == 30 + sum(len(g) - 1 for g in fewer.groups)


def test_pair_scores_against_counting_by_hand():
    truth = group_pairs([["a", "b", "c"], ["d", "e"]])  # 3 + 1 pairs
    assert truth == {("a", "b"), ("a", "c"), ("b", "c"), ("d", "e")}
    got = pair_scores({("a", "b"), ("d", "e"), ("x", "y")}, truth)
    assert got["precision"] == pytest.approx(2 / 3, abs=1e-4)
    assert got["recall"] == 0.5 and got["f1"] == pytest.approx(4 / 7, abs=1e-4)
    assert pair_scores(set(), truth)["f1"] == 0.0


def test_outlier_scores_metrics():
    scores = np.array([0.1, 0.9, 0.2, 0.8, 0.3])
    positive = np.array([0, 1, 0, 0, 1], bool)
    assert auroc(scores, positive) == pytest.approx(5 / 6)  # 5 of 6 pairs ordered right
    assert precision_at_top(scores, positive, 0.2) == 1.0
    assert precision_at_top(scores, positive, 0.4) == 0.5


def test_classes_option():
    assert _classes("0-2,7") == (0, 1, 2, 7)
    assert _classes("") == ()
    from semantic_hashing.retrieval.errors import SemhashError

    with pytest.raises(SemhashError):
        _classes("3-12")
    with pytest.raises(SemhashError):
        _classes("x")
