"""Quality presets: defaults only, recorded in the checkpoint, refused when unknown."""

from dataclasses import fields

import numpy as np
import pytest

from semantic_hashing.retrieval.codes import HashEncoder
from semantic_hashing.retrieval.errors import SemhashError
from semantic_hashing.retrieval.fitting import TrainSpec, train_image_encoder
from semantic_hashing.retrieval.models import ModelConfig
from semantic_hashing.retrieval.presets import PRESETS, get_preset, inputs_of
from semantic_hashing.retrieval.training import TrainConfig


def test_presets_name_real_fields_and_unknown_names_are_refused():
    model_names = {f.name for f in fields(ModelConfig)}
    train_names = {f.name for f in fields(TrainConfig)}
    for name, p in PRESETS.items():
        for per_type in p.model.values():
            for values in per_type.values():
                assert set(values) <= model_names, (name, set(values) - model_names)
        for values in p.train.values():
            assert set(values) <= train_names, (name, set(values) - train_names)
    assert set(PRESETS) == {"default", "high"}
    with pytest.raises(SemhashError, match="unknown --quality 'best'"):
        get_preset("best")
    assert [inputs_of("image", 1), inputs_of("image", 3), inputs_of("text")] == [
        "gray", "color", "text"]  # fmt: skip


def test_default_preset_changes_nothing():
    given = TrainConfig(seed=3)
    assert get_preset("default").train_config("gray", given) == given
    assert get_preset("default").model_fields("conv-dae", "color") == {}


@pytest.mark.parametrize("inputs", ["gray", "color"])
def test_high_preset_fills_defaults_but_explicit_options_win(inputs):
    high = get_preset("high")
    filled = high.train_config(inputs, TrainConfig())
    assert all(getattr(filled, k) == v for k, v in high.train[inputs].items())
    explicit = high.train_config(inputs, TrainConfig(epochs=2, min_steps=7))
    assert explicit.epochs == 2 and explicit.min_steps == 7
    assert high.model_fields("conv-dae", inputs) and high.model_fields("ae", inputs) == {}
    assert high.model_fields("bow-ae", "text") == {}
    assert high.train_config("text", TrainConfig()) == TrainConfig()


@pytest.mark.parametrize("channels", [1, 3])
def test_high_quality_model_is_what_the_checkpoint_records(tmp_path, channels):
    data = np.random.default_rng(0).integers(0, 255, (64, channels, 16, 16), dtype=np.uint8)
    spec = TrainSpec(bits=16, device="cpu", train=TrainConfig(steps=2), quality="high")
    encoder, info = train_image_encoder(data, spec)
    wanted = get_preset("high").model_fields("conv-dae", inputs_of("image", channels))
    assert all(getattr(encoder.config, k) == v for k, v in wanted.items())
    assert info["quality"] == "high" and info["steps"] == 2  # explicit steps win
    encoder.save(tmp_path / "m.pt", info)
    again = HashEncoder.load(tmp_path / "m.pt")
    assert again.config == encoder.config and again.train_info["quality"] == "high"
    assert np.array_equal(again.encode(data), encoder.encode(data))


def test_quality_through_the_installed_command(tmp_path):
    import json
    import subprocess
    import sys
    from pathlib import Path

    from .conftest import make_image_folder

    exe = Path(sys.executable).with_name("semhash")
    folder = make_image_folder(tmp_path / "imgs", per_class=8, rgb=True)

    def run(*args):
        return subprocess.run([str(exe), *map(str, args)], capture_output=True, text=True,
                              timeout=300)  # fmt: skip

    bad = run("index", folder, "-c", tmp_path / "bad.semhash", "--quality", "best")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and "'best'" in bad.stderr
    assert not (tmp_path / "bad.semhash").exists()
    done = run("train", folder, "--out", tmp_path / "m.pt", "--bits", "16", "--epochs", "1",
               "--quality", "high", "--features", "pixels")  # fmt: skip
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    model = HashEncoder.load(tmp_path / "m.pt")
    assert model.config.corruption == "augment" and model.train_info["quality"] == "high"
    assert model.train_info["epochs"] == 1  # --epochs still wins over the preset's steps
    made = run("index", folder, "-c", tmp_path / "c.semhash", "--model", tmp_path / "m.pt")
    assert made.returncode == 0, made.stderr
    info = run("info", tmp_path / "c.semhash", "--json")
    assert info.returncode == 0 and json.loads(info.stdout)["items"] == 24


def test_bench_report_names_the_presets_budget():
    from types import SimpleNamespace

    import numpy as np

    from semantic_hashing.bench.report import training_budget

    gray = SimpleNamespace(kind="image", db_inputs=np.zeros((4, 1, 28, 28), np.uint8))
    color = SimpleNamespace(kind="image", db_inputs=np.zeros((4, 3, 32, 32), np.uint8))
    opts = SimpleNamespace(epochs=0, quality="high")
    assert training_budget(opts, gray) == "step budget 8000-12000 steps (quality high)"
    assert training_budget(opts, color) == "step budget 4000-8000 steps (quality high)"
    opts.quality = "default"
    assert training_budget(opts, gray) == "step budget 1400-4000 steps (quality default)"
    opts.epochs = 3
    assert training_budget(opts, color) == "3 epochs"
