"""Input kinds: one interface (`base.Kind`) and this one registry of its implementations.

    image  photos and pictures (kinds/image.py)
    text   documents as bags of words (kinds/text.py)

Callers ask the kind of a collection (`get_kind(coll.kind)`, or `coll.input_kind`) instead of
comparing names. Adding a kind is one module with its Kind subclass, and its line below.
"""

from __future__ import annotations

from pathlib import Path

from semantic_hashing.retrieval.errors import SemhashError
from semantic_hashing.retrieval.kinds.base import Kind, Loaded, Training
from semantic_hashing.retrieval.kinds.image import ImageKind
from semantic_hashing.retrieval.kinds.text import TextKind
from semantic_hashing.retrieval.walk import ListingRules

# In this order an unnamed folder's kind is inferred (`infer_kind`).
KINDS: dict[str, Kind] = {kind.name: kind for kind in (ImageKind(), TextKind())}

__all__ = ["KINDS", "Kind", "Loaded", "Training", "get_kind", "infer_kind"]


def get_kind(name: str) -> Kind:
    """The registered kind called `name`; refused in one sentence when there is none."""
    kind = KINDS.get(name)
    if kind is None:
        raise SemhashError(f"unknown kind {name!r}; use {' or '.join(KINDS)}.")
    return kind


def infer_kind(root: Path, rules: ListingRules | None = None) -> str:
    """The first kind, in registry order, whose items the folder holds."""
    for kind in KINDS.values():
        if kind.found_in(root, rules):
            return kind.name
    raise SemhashError(f"no {' or '.join(KINDS)} files were found in {root}.")
