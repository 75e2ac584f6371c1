"""No silent acceptance: options that cannot apply are refused with one sentence."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from .conftest import TOPICS, assert_user_error, run

TOPIC = TOPICS["space"].split()


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


def test_a_one_word_note_is_skipped_not_a_duplicate_of_a_long_post(tmp_path):
    """A note of one known word was a 1.000-similar duplicate of a 300-word post sharing
    only that word; documents with too few known words are now skipped with the reason."""
    from .conftest import make_corpus

    corpus = make_corpus(tmp_path / "news", per_topic=12)
    model = tmp_path / "m.pt"
    run("train", corpus, "--out", model, "--bits", "16", "--epochs", "1", "-q")
    rng = np.random.default_rng(0)
    junk = " ".join(f"zq{n:05d}" for n in rng.integers(0, 99999, 299))  # unknown words
    (corpus / "space" / "long").write_text(f"Subject: a long post\n\norbit {junk}\n")
    (corpus / "space" / "note").write_text("orbit\n")
    (corpus / "space" / "pair").write_text("nasa rocket nasa\n")
    good = " ".join(rng.choice(TOPIC, 300))
    (corpus / "space" / "real").write_text(f"Subject: a real post\n\n{good}\n")
    coll = tmp_path / "c.semhash"
    out = run("index", corpus, "-c", coll, "--model", model).output
    for name, n in (("long", 1), ("note", 1), ("pair", 2)):
        assert f"skipped {corpus / 'space' / name}: too few words of the model's vocabulary " \
               f"to compare ({n} of at least 3" in out, out  # fmt: skip
    assert "added 37," in out  # 36 posts and the real one
    groups = run("dedup", coll, "--json", "--threshold", "0.5").output.splitlines()
    names = {Path(d["path"]).name for g in map(json.loads, groups) for d in g["duplicates"]}
    assert not names & {"long", "note", "pair"}
