"""The store's public entry points: index a folder, train a model, remove items, check.

Re-exported by the top package `semantic_hashing`. Each imports its module on first use, so
that commands that need no model never pay for torch.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from semantic_hashing.retrieval.errors import SemhashError
from semantic_hashing.retrieval.params import DEFAULT_BITS

if TYPE_CHECKING:
    from semantic_hashing.indexer.pipeline import IndexOptions, IndexReport

__all__ = ["check", "index", "index_options", "remove", "train"]


TRAINING_SETTINGS = ("bits", "epochs", "image_size", "vocab", "vocab_by", "model_type", "seed",
                     "quality")  # fmt: skip


def index_options(*, bits: int = DEFAULT_BITS, epochs: int | None = None, kind: str | None = None,
                  image_size: int = 0, vocab: int = 10_000, vocab_by: str = "count",
                  model_type: str = "", seed: int = 0, quality: str = "default",
                  device: str = "auto", include_hidden: bool = False, exclude=(), include=(),
                  follow_links: bool = False, features: str | None = None,
                  **extra) -> IndexOptions:  # fmt: skip
    """`IndexOptions` from keyword settings, each checked (`extra`: IndexOptions fields).
    Listing: `include_hidden`, `exclude` / `include` (globs), `follow_links`. `features`
    (image folders): "pixels", a backbone ("efficientnet-lite0") or "auto" (the default,
    or $SEMHASH_FEATURES): the backbone for colour photos when its extra is installed."""
    from semantic_hashing.indexer.pipeline import IndexOptions
    from semantic_hashing.retrieval.fitting import TrainSpec
    from semantic_hashing.retrieval.training import TrainConfig
    from semantic_hashing.retrieval.walk import ListingRules

    tcfg = TrainConfig(seed=seed)
    if epochs is not None:
        if not isinstance(epochs, int) or epochs < 1:
            raise SemhashError(f"--epochs must be at least 1, not {epochs}.")
        tcfg.epochs = epochs
    spec = TrainSpec(bits=bits, model_type=model_type, image_size=image_size, vocab=vocab,
                     vocab_by=vocab_by, device=device, train=tcfg, quality=quality,
                     features=_features(features))  # fmt: skip
    listing = ListingRules(include_hidden=include_hidden, exclude=_globs(exclude),
                           include=_globs(include), follow_links=follow_links)  # fmt: skip
    opts = IndexOptions(spec=spec, kind=kind, listing=listing, **extra)
    opts.validate()
    return opts


def _features(value: str | None) -> str:
    """--features as given, else $SEMHASH_FEATURES, else auto; refused unless known."""
    import os

    from semantic_hashing.retrieval.kinds.choice import feature_choices
    from semantic_hashing.retrieval.kinds.features import FEATURES_ENV

    value = value or os.environ.get(FEATURES_ENV) or "auto"
    if value not in feature_choices():
        raise SemhashError(f"unknown --features {value!r}; choose one of "
                           f"{', '.join(feature_choices())}.")  # fmt: skip
    return value


def _globs(value) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(value)


def index(folder: str | Path, collection: str | Path, *, model: str | Path | None = None,
          **settings) -> IndexReport:  # fmt: skip
    """Index every image or document below `folder` into `collection` (created when new;
    brought up to date when it exists: only new or changed files are encoded). Trains a
    model on the folder unless `model` (a trained model file) is given. Settings: bits,
    epochs, kind, image_size, vocab, vocab_by, model_type, seed, quality, device, db_url, backend,
    uri, prune, rebuild, chunk_size, workers, include_hidden, exclude, include,
    follow_links."""
    from semantic_hashing.indexer.pipeline import index_folder

    given = settings.pop("given", None)
    if given is None:  # from Python: every training setting passed counts as given
        given = [k for k in TRAINING_SETTINGS if k in settings]
    opts = index_options(**settings, model_path=Path(model) if model else None)
    opts.given = tuple(given)
    return index_folder(folder, collection, opts)


def train(folder: str | Path, out: str | Path, **settings) -> dict:
    """Train a model on the items below `folder` and save it to `out` (no collection)."""
    from semantic_hashing.indexer.training import train_folder

    return train_folder(folder, out, index_options(**settings))


def remove(collection: str | Path, ids=(), path: str | Path | None = None) -> int:
    """Remove items by id and/or everything indexed at or below `path`; returns the count."""
    from semantic_hashing.indexer.maintenance import remove_items

    return remove_items(collection, ids, path)


def check(collection: str | Path, repair: bool = False) -> dict:
    """Problems between index, metadata and stored inputs; with `repair`, fixed."""
    from semantic_hashing.indexer.maintenance import check_collection

    return check_collection(collection, repair)
