"""Quality presets: defaults only, recorded in the checkpoint, refused when unknown."""

import numpy as np
import pytest

from retrieval.errors import SemhashError
from retrieval.presets import PRESETS, check_presets, get_preset
from retrieval.sources import TrainSpec, train_image_encoder
from retrieval.training import TrainConfig


def test_presets_name_real_fields_and_unknown_names_are_refused():
    check_presets()
    assert set(PRESETS) == {"default", "high"}
    with pytest.raises(SemhashError, match="unknown --quality 'best'"):
        get_preset("best")


def test_default_preset_changes_nothing():
    given = TrainConfig(seed=3)
    assert get_preset("default").train_config("image", given) == given
    assert get_preset("default").model_fields("conv-dae") == {}


def test_high_preset_fills_defaults_but_explicit_options_win():
    high = get_preset("high")
    budget = high.train["image"]
    filled = high.train_config("image", TrainConfig())
    assert all(getattr(filled, k) == v for k, v in budget.items())
    explicit = high.train_config("image", TrainConfig(epochs=2, min_steps=7))
    assert explicit.epochs == 2 and explicit.min_steps == 7
    assert high.model_fields("conv-dae") and high.model_fields("ae") == {}


def test_high_quality_model_is_what_the_checkpoint_records(tmp_path):
    data = np.random.default_rng(0).integers(0, 255, (64, 1, 16, 16), dtype=np.uint8)
    spec = TrainSpec(bits=16, device="cpu", train=TrainConfig(steps=2), quality="high")
    encoder, info = train_image_encoder(data, spec)
    for key, value in get_preset("high").model_fields("conv-dae").items():
        assert getattr(encoder.config, key) == value
    assert info["quality"] == "high" and info["steps"] == 2  # explicit steps win
    encoder.save(tmp_path / "m.pt", info)
    from retrieval.codes import HashEncoder

    again = HashEncoder.load(tmp_path / "m.pt")
    assert again.config == encoder.config and again.train_info["quality"] == "high"
