"""The training budget: counted in optimiser steps, with a floor and a cap, so it fits
collections of any size; the resolved budget is what the checkpoint records."""

import numpy as np
import pytest
import torch

from semantic_hashing.retrieval.errors import SemhashError
from semantic_hashing.retrieval.families import build_model
from semantic_hashing.retrieval.models import ModelConfig
from semantic_hashing.retrieval.training import KIND_DEFAULTS, TrainConfig, step_budget, train


def test_step_budget_for_tiny_small_and_large_image_collections():
    d = KIND_DEFAULTS["image"]
    # a tiny collection: one batch per pass; the floor stops at max_epochs passes
    tiny = TrainConfig().resolved("image", 40)
    assert tiny.batch_size == 40 and tiny.steps == d["max_epochs"] == tiny.epochs
    # a small folder of 4,000 images: 15 full batches per pass; 6 passes (90 steps) would
    # leave it undertrained, the floor gives it as many steps as 60,000 items get
    small = TrainConfig().resolved("image", 4000)
    assert small.steps == d["min_steps"] and small.epochs == -(-d["min_steps"] // 15)
    # 60,000 items: 6 passes of 234 batches are above the floor and below the cap
    full = TrainConfig().resolved("image", 60_000)
    assert full.steps == 6 * 234 and full.epochs == 6
    # a million items are sampled down to max_items and capped in steps
    huge = TrainConfig().resolved("image", 1_000_000)
    assert huge.steps == d["max_steps"] < 6 * (200_000 // 256)
    assert huge.epochs == -(-d["max_steps"] // (200_000 // 256))


def test_text_budget_and_explicit_settings():
    d = KIND_DEFAULTS["text"]
    assert TrainConfig().resolved("text", 3000).steps == d["min_steps"]
    assert TrainConfig().resolved("text", 13_332).steps == 20 * 133
    # what the user asks for is used as given: epochs exactly, or steps exactly
    assert TrainConfig(epochs=2).resolved("image", 4000).steps == 30
    assert TrainConfig(epochs=50).resolved("image", 1_000_000).steps == 50 * 781
    assert TrainConfig(steps=7).resolved("image", 4000).steps == 7
    # own floor and cap
    assert TrainConfig(min_steps=500, max_steps=600).resolved("image", 4000).steps == 500
    assert TrainConfig(max_steps=100).resolved("image", 60_000).steps == 100
    assert step_budget(10, 6, TrainConfig(min_steps=1000, max_steps=5000, max_epochs=20)) == 200


def test_negative_budget_is_a_user_error():
    with pytest.raises(SemhashError, match="steps"):
        TrainConfig(steps=-1).resolved("image", 100)


def test_training_runs_the_resolved_steps_and_reports_them():
    images = np.random.default_rng(0).integers(0, 255, (50, 1, 8, 8), dtype=np.uint8)
    model = build_model(ModelConfig(bits=8, image_size=8, width=4, hidden=16))
    info = train(model, images, TrainConfig(steps=9, batch_size=16), torch.device("cpu"))
    assert info["steps"] == 9 and info["epochs"] == 3  # 3 full batches per pass
    assert info["train_config"]["steps"] == 9 and info["train_config"]["lr"] > 0
    assert info["device"].startswith("cpu")
    assert isinstance(info["final"]["loss"], float)


def test_the_collections_checkpoint_keeps_the_resolved_budget(tmp_path):
    from semantic_hashing.retrieval.codes import HashEncoder
    from semantic_hashing.retrieval.fitting import TrainSpec, train_image_encoder

    images = np.random.default_rng(0).integers(0, 255, (40, 1, 8, 8), dtype=np.uint8)
    spec = TrainSpec(bits=8, train=TrainConfig(steps=3, batch_size=16))
    encoder, _ = train_image_encoder(images, spec)
    encoder.save(tmp_path / "m.pt")  # as Collection.create saves it: no explicit info
    saved = HashEncoder.load(tmp_path / "m.pt").train_info
    assert saved["steps"] == 3 and saved["train_config"]["steps"] == 3
    assert saved["train_config"]["min_steps"] == KIND_DEFAULTS["image"]["min_steps"]
    rebuilt = TrainConfig(**saved["train_config"])  # the dataclass round trip
    assert rebuilt.resolved("image", 40) == rebuilt
