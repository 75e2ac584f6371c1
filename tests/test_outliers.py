"""semhash outliers and reconstruct: per-item errors against the model's own loss, foreign
items found, sheets, text, bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from semantic_hashing.cli import cli
from semantic_hashing.indexer.pipeline import index_folder
from semantic_hashing.indexer.store import Store
from semantic_hashing.query.outliers import find_outliers, outlier_scores
from semantic_hashing.query.reconstruct import item_score, reconstruction_errors, stored_inputs

from .conftest import fast_options, make_image_folder


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture(scope="session")
def with_foreign(tmp_path_factory) -> tuple[Path, list[str]]:
    """The striped test images plus three foreign ones (bright noise, a disc, white)."""
    root = make_image_folder(tmp_path_factory.mktemp("outl") / "imgs", per_class=40, seed=2)
    rng = np.random.default_rng(0)
    (root / "odd").mkdir()
    yy, xx = np.mgrid[:28, :28]
    foreign = {
        "noise.png": rng.integers(0, 256, (28, 28)).astype(np.uint8),
        "disc.png": (((yy - 14) ** 2 + (xx - 14) ** 2 < 80) * 230 + 10).astype(np.uint8),
        "white.png": np.full((28, 28), 235, np.uint8),
    }
    for name, arr in foreign.items():
        Image.fromarray(arr).save(root / "odd" / name)
    coll = tmp_path_factory.mktemp("outlc") / "o.semhash"
    index_folder(root, coll, fast_options(epochs=6, bits=16))
    return coll, sorted(foreign)


def errors_and_model_loss(store, n: int):
    """The stored inputs of the first `n` items, their per-item reconstruction errors and
    the model's own training loss (the mean) on them."""
    inputs = stored_inputs(store, sorted(store.meta.labels())[:n])
    per_item = reconstruction_errors(store.encoder, inputs, show=False)
    model = store.encoder.model.eval()
    with torch.no_grad():
        x = model.prepare(inputs)
        want = model.inputs.loss(model(x)[1], x).item()
    return inputs, per_item, want


def test_item_errors_average_to_the_models_own_loss(collection):
    with Store.open(collection) as store:
        inputs, per_item, want = errors_and_model_loss(store, 50)
        assert per_item.shape == (50,)
        assert per_item.mean() == pytest.approx(want, rel=1e-5)
        mse = reconstruction_errors(store.encoder, inputs, "mse", show=False)
        assert np.all((mse >= 0) & (mse <= 1))


def test_foreign_images_are_the_top_outliers(with_foreign):
    coll, foreign = with_foreign
    with Store.open(coll) as store:
        top = find_outliers(store, top=3)
        ids, scores = outlier_scores(store, show=False)
        assert sorted(Path(o.path).name for o in top) == foreign
        assert [o.rank for o in top] == [1, 2, 3]
        assert top[0].score == pytest.approx(scores.max(), rel=1e-4)
        one = top[1].id
        assert item_score(store, one) == pytest.approx(scores[ids == one][0], rel=1e-5)


def test_outliers_cli_json_and_sheet(with_foreign, tmp_path):
    coll, foreign = with_foreign
    out = run("outliers", coll, "--top", "5", "--json", "--sheet", tmp_path / "o.png")
    assert out.exit_code == 0, out.output
    rows = [json.loads(x) for x in out.stdout.splitlines()]
    assert len(rows) == 5 and {"rank", "id", "path", "score", "label"} <= set(rows[0])
    assert [r["score"] for r in rows] == sorted((r["score"] for r in rows), reverse=True)
    with Image.open(tmp_path / "o.png") as img:
        assert img.size[0] > 5 * 90
    assert run("outliers", coll, "--top", "0").exit_code == 1


def test_reconstruct_sheet_by_id_and_query(with_foreign, tmp_path):
    coll, _ = with_foreign
    out = run("reconstruct", coll, "--id", "0", "--id", "41", "--sheet", tmp_path / "r.png")
    assert out.exit_code == 0, out.output
    assert out.stdout.count("reconstruction error") == 2
    with Image.open(tmp_path / "r.png") as img:
        assert img.height > 2 * 96 and img.width > 4 * 96
    with Store.open(coll) as store:
        query = store.meta.get([5])[5].path
    out = run("reconstruct", coll, "--query", query, "--json")
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)["id"] is None


@pytest.mark.parametrize(
    "args,words",
    [
        ([], "give --id or --query"),
        (["--id", "99999"], "not in"),
        (["--query", "nowhere.png"], "does not exist"),
    ],
)
def test_reconstruct_bad_input(collection, args, words):
    out = run("reconstruct", collection, *args)
    assert out.exit_code == 1 and words in out.output and "Traceback" not in out.output


def test_no_stored_inputs_is_one_sentence(tmp_path, collection):
    shutil.copytree(collection, tmp_path / "c.semhash")
    for chunk in (tmp_path / "c.semhash" / "raw").iterdir():
        chunk.unlink()
    for args in (["outliers"], ["reconstruct", "--id", "0"]):
        out = run(args[0], tmp_path / "c.semhash", *args[1:])
        assert out.exit_code == 1 and "keeps no stored input" in out.output


def test_text_outliers_and_top_words(tmp_path):
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    pool = np.random.default_rng(1)
    words = sorted({"".join(pool.choice(letters, 6)) for _ in range(80)})
    rng = np.random.default_rng(0)
    (tmp_path / "docs").mkdir()
    for i in range(60):
        topic = words[:40] if i % 2 else words[40:]
        (tmp_path / "docs" / f"{i}.txt").write_text(" ".join(rng.choice(topic, 50)))
    coll = tmp_path / "t.semhash"
    index_folder(tmp_path / "docs", coll, fast_options(bits=16, vocab=200))
    with Store.open(coll) as store:
        _, per_item, want = errors_and_model_loss(store, 20)
        assert per_item.mean() == pytest.approx(want, rel=1e-5)
    out = run("reconstruct", coll, "--id", "3")
    assert out.exit_code == 0, out.output
    assert "from corrupted:" in out.stdout and "input:" in out.stdout
    assert run("outliers", coll, "--top", "3").exit_code == 0
    assert run("outliers", coll, "--metric", "mse").exit_code == 1
    assert run("reconstruct", coll, "--id", "3", "--sheet", tmp_path / "x.png").exit_code == 1


def test_public_api_methods(with_foreign, tmp_path):
    import semantic_hashing as sh

    coll, foreign = with_foreign
    with sh.open(coll) as c:
        top = c.outliers(3)
        assert all(isinstance(o, sh.Outlier) for o in top)
        assert sorted(Path(o.path).name for o in top) == foreign
        assert c.score(top[0].id) == pytest.approx(top[0].score, rel=1e-4)
        recs = c.reconstruct([0])
        assert isinstance(recs[0], sh.Reconstruction) and recs[0].input.shape == (1, 28, 28)
        groups = c.dedup(radius=16, threshold=0.99)
        assert all(isinstance(g, sh.DuplicateGroup) for g in groups)
        assert c.dedup(against=c) and all(g.duplicates for g in c.dedup(against=c))
