"""The text kind (retrieval/kinds/text.py): files, word counts, queries, baseline,
similarity and what is shown, each hook on a handful of documents."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image
from scipy import sparse

from semantic_hashing.retrieval.errors import SemhashError
from semantic_hashing.retrieval.families import build_model, family_config
from semantic_hashing.retrieval.fitting import TrainSpec
from semantic_hashing.retrieval.inputs import CountInput
from semantic_hashing.retrieval.kinds import get_kind
from semantic_hashing.retrieval.models import ModelConfig

TEXT = get_kind("text")
DOCS = {
    "space.txt": "Subject: launch\n\nThe shuttle rocket reached orbit.\nNasa was pleased.",
    "hockey.txt": "The goalie stopped the puck and the team won the hockey game.",
    "cooking.md": "Simmer the onions, then add garlic and tomatoes to the sauce.",
}
WORDS = ["shuttle", "rocket", "orbit", "puck", "hockey", "goalie", "garlic", "sauce", "onions"]


def store(path="t.semhash", words=WORDS):
    """What the hooks use of a collection: its path and its encoder's vocabulary."""
    return SimpleNamespace(path=Path(path), encoder=SimpleNamespace(extra={"vocab": words}))


@pytest.fixture
def folder(tmp_path) -> Path:
    root = tmp_path / "docs"
    root.mkdir()
    for name, body in DOCS.items():
        (root / name).write_text(body)
    (root / "binary.txt").write_bytes(b"\x00\x01\x02" * 50)
    Image.new("L", (4, 4)).save(root / "picture.png")
    return root


def test_listing_reading_and_features(folder):
    paths = TEXT.list(folder)
    assert sorted(p.name for p in paths) == ["binary.txt", "cooking.md", "hockey.txt",
                                             "space.txt"]  # fmt: skip
    assert TEXT.found_in(folder) and not TEXT.accept(Path("a.png"))
    loaded = TEXT.read(paths, None, TrainSpec(), show=False, workers=1)
    assert [Path(p).name for p, _ in loaded.skipped] == ["binary.txt"]
    assert {m["title"] for m in loaded.meta} >= {"launch"}  # the Subject: line is the title
    counts = TEXT.features(loaded, store().encoder)
    assert counts.shape == (3, len(WORDS)) and counts.sum() > 0
    empty, reasons = TEXT.unencodable(sparse.csr_matrix([[1.0, 1, 2, 0], [0, 0, 0, 0],
                                                         [0, 5.0, 0, 1]]))  # fmt: skip
    assert empty.tolist() == [False, True, True]
    assert reasons[1] == "no word of the model's vocabulary"
    assert reasons[2].startswith("too few words of the model's vocabulary to compare (2 of")
    assert TEXT.item_bytes(None, None) > 0


def test_training_rows(folder):
    loaded = TEXT.read(TEXT.list(folder), None, TrainSpec(), show=False, workers=1)
    fitted = TEXT.training_rows(loaded, TrainSpec(vocab=50))
    words = fitted.extra["vocab"]
    assert fitted.kind == "text" and fitted.fields["vocab_size"] == len(words) >= 2
    assert fitted.rows.shape == (3, len(words)) and fitted.fields["threshold"] == "median"
    model = build_model(family_config("bow-ae", kind="text", bits=8, vocab_size=len(words)))
    fitted.setup(model)  # the decoder weighs words by their IDF in these documents
    assert torch.all(model.inputs.word_weight >= 1.0) and model.inputs.word_weight.max() > 1
    with pytest.raises(SemhashError, match="too few words"):
        TEXT.training(["the"], TrainSpec())


def test_model_side():
    cfg = ModelConfig(model_type="bow-ae", kind="text", vocab_size=9)
    assert TEXT.input_shape(cfg) == (9,) and isinstance(TEXT.input_module(cfg), CountInput)
    TEXT.check_config(cfg)
    assert TEXT.preset_inputs() == "text"
    rows = sparse.csr_matrix(np.eye(3, len(WORDS), dtype=np.float32))
    assert TEXT.model_input(rows, store()) is rows
    moved = TEXT.inputs_from(rows, store("a", WORDS), store("b", ["orbit", "shuttle"]))
    assert moved.toarray().tolist() == [[0, 1], [0, 0], [1, 0]]  # by word, unknown dropped


def test_queries(folder):
    names, counts, skipped = TEXT.load_queries(folder, store())
    assert len(names) == 3 and counts.shape == (3, len(WORDS)) and len(skipped) == 1
    with pytest.raises(SemhashError, match="t.semhash is a text collection; it cannot be"):
        TEXT.load_queries(folder / "picture.png", store())
    with pytest.raises(SemhashError, match="does not exist"):
        TEXT.load_queries(folder / "nope.txt", store())
    names, counts, _ = TEXT.typed_query("rocket orbit", store())
    assert names == ["rocket orbit"] and counts.sum() == 2
    with pytest.raises(SemhashError, match="nothing to search with"):
        TEXT.typed_query("the and of", store())
    names, _, skipped = TEXT.load_queries(folder, store(words=["puck"]))
    assert names == [str(folder / "hockey.txt")] and len(skipped) == 3  # no known words
    with pytest.raises(SemhashError, match="t.semhash is a text collection; search it with"):
        TEXT.in_memory_query(np.zeros((4, 4)), store())


def test_baseline_features_and_similarity(folder):
    counts = TEXT.load_queries(folder, store())[1]
    D, rows = TEXT.baseline(counts, counts[[2]], 3)
    assert rows[0, 0] == 2 and D[0, 0] == pytest.approx(0, abs=1e-6)
    with pytest.raises(SemhashError, match="keeps no word counts"):
        TEXT.baseline(None, counts, 1)
    a, b, metric = TEXT.raw_features(counts, counts[:1])
    assert metric == "ip" and a.shape == counts.shape and isinstance(a, np.ndarray)
    assert np.allclose(TEXT.similarity(counts, counts), 1.0)
    assert TEXT.pair_similarity(counts, counts, np.array([0]), np.array([1]))[0] < 0.5


def test_what_is_shown(folder, tmp_path):
    row = {"path": str(folder / "space.txt"), "title": "launch"}
    stored = sparse.csr_matrix(np.array([[0, 3, 1, 0, 0, 0, 0, 0, 0]], np.float32))
    kept = lambda: (stored, store().encoder)  # noqa: E731
    assert TEXT.preview(row, kept).startswith("The shuttle rocket reached orbit.")
    gone = {"path": str(tmp_path / "gone.txt"), "title": "gone"}
    assert TEXT.preview(gone, kept) == "(file gone; its words: rocket, orbit)"
    card = TEXT.thumbnail(row, 96, kept)
    assert card.size == (96, 96) and card.mode == "RGB"
    assert TEXT.page_fields({"vocab_size": 9}) == {"image_size": None, "channels": None}
    x = torch.tensor([0, 2.0, 1, 0, 0, 0, 0, 0, 0])
    out = torch.zeros(9)
    out[7] = 5.0
    rec = TEXT.reconstruction(store().encoder, x, x * 0, out, out, 2)
    assert rec["words"]["input"] == [("rocket", 2.0), ("orbit", 1.0)]
    assert rec["words"]["corrupted"] == [] and rec["words"]["reconstruction"][0][0] == "sauce"
