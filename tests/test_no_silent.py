"""No silent acceptance: options that cannot apply are refused with one sentence."""

import json
import shutil

import pytest

from .conftest import assert_user_error, run


@pytest.fixture
def copy(tmp_path, collection):
    dest = tmp_path / "c.semhash"
    shutil.copytree(collection, dest)
    return dest


@pytest.mark.parametrize(
    "args, words",
    [
        (["--bits", "32"], ["--bits", "16-bit"]),
        (["--model-type", "vae"], ["--model-type"]),
        (["--quality", "high"], ["--quality"]),
        (["--epochs", "5"], ["--epochs"]),
    ],
)
def test_training_settings_on_an_existing_collection_are_refused(copy, image_folder, args, words):
    before = json.loads((copy / "collection.json").read_text())
    result = run("index", image_folder, "-c", copy, *args, ok=False)
    assert_user_error(result, *words, "--rebuild")
    after = json.loads((copy / "collection.json").read_text())
    for key in ("bits", "model_fingerprint", "count"):
        assert after[key] == before[key]


def test_the_collections_own_bits_are_accepted(copy, image_folder):
    run("index", image_folder, "-c", copy, "--bits", "16", "-q")


def test_evaluate_on_a_folder_without_label_folders_is_refused(tmp_path, collection, image_folder):
    flat = tmp_path / "flat"
    flat.mkdir()
    for i, png in enumerate(sorted(image_folder.rglob("*.png"))[:6]):
        shutil.copy(png, flat / f"{i}.png")
    assert_user_error(run("evaluate", collection, "--queries", flat, ok=False), "label folders")
    other = tmp_path / "other" / "nolabel"
    other.mkdir(parents=True)
    shutil.copy(flat / "0.png", other / "0.png")
    assert_user_error(run("evaluate", collection, "--queries", other.parent, ok=False), "nolabel")
    run(
        "evaluate", collection, "--queries", image_folder, "--limit", "5"
    )  # a labelled folder is scored
