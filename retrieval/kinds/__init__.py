"""Input kinds: one interface (`base.Kind`) and this one registry of its implementations.

    image     photos and pictures by their pixels (kinds/image.py)
    text      documents as bags of words (kinds/text.py)
    features  photos by a frozen pretrained backbone's features (kinds/features.py); never
              inferred from a folder: `--features` (retrieval/kinds/features.py `resolve`)
              chooses it for image folders

Callers ask the kind of a collection (`get_kind(coll.kind)`, or `coll.input_kind`) instead of
comparing names. Adding a kind is one module with its Kind subclass, and its line below.
"""

from __future__ import annotations

from pathlib import Path

from semantic_hashing.retrieval.errors import SemhashError
from semantic_hashing.retrieval.kinds.base import Kind, Loaded, Training
from semantic_hashing.retrieval.kinds.features import FeaturesKind
from semantic_hashing.retrieval.kinds.image import ImageKind
from semantic_hashing.retrieval.kinds.text import TextKind
from semantic_hashing.retrieval.walk import ListingRules

# In this order an unnamed folder's kind is inferred (`infer_kind`).
KINDS: dict[str, Kind] = {kind.name: kind for kind in (ImageKind(), TextKind(), FeaturesKind())}

__all__ = ["KINDS", "Kind", "Loaded", "Training", "baseline_names", "get_kind", "infer_kind"]


def baseline_names() -> tuple[str, ...]:
    """Every kind's baselines (`Kind.baselines`), "raw" first: what `--baseline` takes."""
    return tuple(dict.fromkeys(name for kind in KINDS.values() for name in kind.baselines))


def get_kind(name: str) -> Kind:
    """The registered kind called `name`; refused in one sentence when there is none."""
    kind = KINDS.get(name)
    if kind is None:
        names = list(KINDS)
        raise SemhashError(f"unknown kind {name!r}; use {', '.join(names[:-1])} or {names[-1]}.")
    return kind


def infer_kind(root: Path, rules: ListingRules | None = None) -> str:
    """The first kind, in registry order, whose items the folder holds (of the kinds that
    are ever inferred)."""
    guessed = [kind for kind in KINDS.values() if kind.inferred]
    for kind in guessed:
        if kind.found_in(root, rules):
            return kind.name
    raise SemhashError(f"no {' or '.join(k.name for k in guessed)} files were found in {root}.")


def check_kinds(coll_kind: str, model_kind: str, collection, model_path) -> None:
    """Refuse a model whose codes are made from other inputs than a collection's."""
    if coll_kind == model_kind:
        return
    theirs, mine = get_kind(coll_kind).codes_of, get_kind(model_kind).codes_of
    raise SemhashError(
        f"{collection} holds codes of {theirs} and the model {model_path} makes codes "
        f"of {mine}; they cannot be compared: give a model of {theirs}, or index into a new "
        "collection."
    )
