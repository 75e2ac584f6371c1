"""Training an encoder for a collection: the kind says what to train on, this does the rest.

`fit_encoder(kind, loaded, spec)` asks the input kind for its training rows and the model
config fields they fix (`Kind.training_rows`), builds the kind's default family (or
`spec.model_type`) with the quality preset's settings, trains it (`retrieval.training`) and
fits the quantiser's thresholds on the training items. The same seed gives the same model.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from semantic_hashing.retrieval.codes import HashEncoder
from semantic_hashing.retrieval.families import build_model, family_config
from semantic_hashing.retrieval.kinds import Kind, Loaded, Training, get_kind
from semantic_hashing.retrieval.models import ModelConfig
from semantic_hashing.retrieval.params import DEFAULT_BITS
from semantic_hashing.retrieval.presets import get_preset, inputs_of
from semantic_hashing.retrieval.training import TrainConfig, resolve_device, train


@dataclass
class TrainSpec:
    """How to train an encoder when a collection has none yet."""

    bits: int = DEFAULT_BITS
    model_type: str = ""  # "" = the kind's default
    image_size: int = 0  # 0: 28 for gray, 32 for colour; the backbone's input (features: 128)
    features: str = "auto"  # image folders: "pixels", a backbone's name, or "auto"
    vocab: int = 10_000
    vocab_by: str = "count"  # rank words by total count ("count") or document frequency ("df")
    device: str = "auto"
    train: TrainConfig = field(default_factory=TrainConfig)
    quality: str = "default"  # a preset of retrieval.presets: model and budget defaults


def model_config(model_type: str, kind: str, spec: TrainSpec, **fields) -> ModelConfig:
    """The family's config for `kind` with the quality preset's settings, then `fields`."""
    inputs = inputs_of(kind, fields.get("channels", 1))
    preset = get_preset(spec.quality).model_fields(model_type, inputs)
    return family_config(model_type, kind=kind, bits=spec.bits, **{**preset, **fields})


def fit(training: Training, spec: TrainSpec) -> tuple[HashEncoder, dict]:
    """Train a hashing autoencoder on `training`'s rows and fit its thresholds there."""
    kind = get_kind(training.kind)
    cfg = model_config(spec.model_type or kind.default_family, kind.name, spec,
                       **training.fields)  # fmt: skip
    torch.manual_seed(spec.train.seed)  # weight initialisation is part of the seeded run
    model = build_model(cfg)
    if training.setup is not None:
        training.setup(model)
    tcfg = get_preset(spec.quality).train_config(inputs_of(cfg.kind, cfg.channels), spec.train)
    data = training.rows
    info = train(model, data, tcfg, resolve_device(spec.device))
    info["quality"] = spec.quality
    encoder = HashEncoder(model, extra=training.extra, train_info=_jsonable(info))
    encoder.fit_thresholds(encoder.real(data, show_progress=True))
    return encoder, info


def fit_encoder(kind: Kind, loaded: Loaded, spec: TrainSpec) -> tuple[HashEncoder, dict]:
    """Train an encoder on items of `kind` read from files."""
    return fit(kind.training_rows(loaded, spec), spec)


def _jsonable(info: dict) -> dict:
    """The training summary as the checkpoint keeps it (plain numbers and strings)."""
    return {k: v for k, v in info.items() if isinstance(v, (int, float, str, dict))}


# Shortcuts for rows already in memory (the benchmarks and tests).
def train_image_encoder(data, spec: TrainSpec) -> tuple[HashEncoder, dict]:
    """Train on uint8 images (N, C, S, S) and fit the thresholds."""
    return fit(get_kind("image").training(data), spec)


def train_text_encoder(texts: list[str], spec: TrainSpec) -> tuple[HashEncoder, dict]:
    """Build the vocabulary, then train a bag-of-words model on the counts."""
    return fit(get_kind("text").training(texts, spec), spec)


def train_count_encoder(counts, words: list[str], spec: TrainSpec) -> tuple[HashEncoder, dict]:
    """Train a bag-of-words model on word counts (documents x `words`)."""
    return fit(get_kind("text").training_counts(counts, words), spec)
