"""Quality presets (`--quality`): named bundles of model and training defaults.

    default  the model and step budget every figure in the README uses unless it says
             otherwise (images: width 32, 1,400-4,000 steps)
    high     a recipe per input, each measured to beat the default on its data set:
             colour images: views of contrastive learning (crops, flips, colour jitter) as
             the corruption, a VICReg-style term that asks two views for the same code,
             median cuts, at least 4,000 steps; gray images: the conv-dae twice as wide
             (64 channels first, hidden 512), thermometer cuts as the default, at least
             8,000 steps; text: as the default. The README gives what each costs.

A preset fills in defaults only: an option given explicitly (`--epochs`, `--steps`) still
wins, and its model settings apply to the model type they name (another `--model-type`
gets only the training budget). The model settings land in the checkpoint's `ModelConfig`,
the steps in its resolved `TrainConfig`, and the preset's name in the training summary.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from semantic_hashing.retrieval.errors import SemhashError
from semantic_hashing.retrieval.kinds import get_kind

if TYPE_CHECKING:  # the module itself stays free of torch (validation imports it)
    from semantic_hashing.retrieval.training import TrainConfig


def inputs_of(kind: str, channels: int = 1) -> str:
    """Which recipe of a preset applies, as the input kind says: "text", "gray" or "color"
    images, ..."""
    return get_kind(kind).preset_inputs(channels)


@dataclass(frozen=True)
class Preset:
    about: str
    # inputs ("gray", "color", "text") -> model type -> ModelConfig fields
    model: dict[str, dict[str, dict]] = field(default_factory=dict)
    train: dict[str, dict] = field(default_factory=dict)  # inputs -> TrainConfig fields

    def model_fields(self, model_type: str, inputs: str) -> dict:
        return dict(self.model.get(inputs, {}).get(model_type, {}))

    def train_config(self, inputs: str, given: TrainConfig) -> TrainConfig:
        """`given` with the preset's values where it still has its zero defaults."""
        from semantic_hashing.retrieval.training import TrainConfig

        blank = TrainConfig()
        values = {k: v for k, v in self.train.get(inputs, {}).items()
                  if getattr(given, k) == getattr(blank, k)}  # fmt: skip
        return replace(given, **values)


PRESETS: dict[str, Preset] = {
    "default": Preset(about="the standard model and step budget"),
    "high": Preset(
        about="longer image training with a recipe per input (cost: see README)",
        model={
            "gray": {"conv-dae": {"width": 64, "hidden": 512}},
            "color": {
                "conv-dae": {
                    "corruption": "augment",
                    "corruption_level": 1.0,
                    "consistency_weight": 100.0,
                    "threshold": "median",
                }
            },
        },  # fmt: skip
        train={
            "gray": {"min_steps": 8000, "max_steps": 12000, "max_epochs": 300},
            "color": {"min_steps": 4000, "max_steps": 8000, "max_epochs": 300},
        },
    ),
}


def get_preset(name: str) -> Preset:
    if name not in PRESETS:
        raise SemhashError(f"unknown --quality {name!r}; choose one of {', '.join(PRESETS)}.")
    return PRESETS[name]
