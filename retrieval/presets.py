"""Quality presets (`--quality`): named bundles of model and training defaults.

    default  the model and step budget every figure in the README uses unless it says
             otherwise (images: width 32, 1,400-4,000 steps)
    high     images: the conv-dae twice as wide (first layer 64 channels, hidden 512),
             its codes cut by ITQ instead of the thermometer, trained at least 8,000 steps
             (at most 12,000; a small folder up to 300 passes); the README gives its cost

A preset fills in defaults only: an option given explicitly (`--epochs`, `--steps`) still
wins, and its model settings apply to the model type they name (another `--model-type`
gets only the training budget). The model settings land in the checkpoint's `ModelConfig`,
the steps in its resolved `TrainConfig`, and the preset's name in the training summary.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import TYPE_CHECKING

from retrieval.errors import SemhashError

if TYPE_CHECKING:  # the module itself stays free of torch (validation imports it)
    from retrieval.training import TrainConfig


@dataclass(frozen=True)
class Preset:
    about: str
    model: dict[str, dict] = field(default_factory=dict)  # model type -> ModelConfig fields
    train: dict[str, dict] = field(default_factory=dict)  # kind -> TrainConfig fields

    def model_fields(self, model_type: str) -> dict:
        return dict(self.model.get(model_type, {}))

    def train_config(self, kind: str, given: TrainConfig) -> TrainConfig:
        """`given` with the preset's values where it still has its zero defaults."""
        from retrieval.training import TrainConfig

        blank = TrainConfig()
        values = {k: v for k, v in self.train.get(kind, {}).items()
                  if getattr(given, k) == getattr(blank, k)}  # fmt: skip
        return replace(given, **values)


PRESETS: dict[str, Preset] = {
    "default": Preset(about="the standard model and step budget"),
    "high": Preset(
        about="a 2x wider image model trained at least 8,000 steps (cost: see README)",
        model={"conv-dae": {"width": 64, "hidden": 512, "threshold": "itq"}},
        train={"image": {"min_steps": 8000, "max_steps": 12000, "max_epochs": 300}},
    ),
}


def get_preset(name: str) -> Preset:
    if name not in PRESETS:
        raise SemhashError(f"unknown --quality {name!r}; choose one of {', '.join(PRESETS)}.")
    return PRESETS[name]


def check_presets() -> None:
    """Every preset names only real ModelConfig and TrainConfig fields (a test runs this)."""
    from retrieval.models import ModelConfig
    from retrieval.training import TrainConfig

    model_names = {f.name for f in fields(ModelConfig)}
    train_names = {f.name for f in fields(TrainConfig)}
    for name, p in PRESETS.items():
        for kind_fields, known in ((p.model, model_names), (p.train, train_names)):
            for values in kind_fields.values():
                if unknown := set(values) - known:
                    raise AssertionError(f"preset {name} names unknown fields {unknown}")
