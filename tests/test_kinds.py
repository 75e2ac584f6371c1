"""The input-kind registry: one sentence for an unknown kind, every registered kind
implementing every hook, kinds inferred from a folder, and a registry that costs nothing to
import."""

from __future__ import annotations

import inspect
import subprocess
import sys

import pytest

from semantic_hashing.retrieval.errors import SemhashError
from semantic_hashing.retrieval.families import get_family
from semantic_hashing.retrieval.kinds import KINDS, Kind, get_kind, infer_kind
from semantic_hashing.retrieval.training import TrainConfig

from .conftest import make_image_folder


def test_unknown_kind_is_one_sentence():
    with pytest.raises(SemhashError) as err:
        get_kind("audio")
    assert str(err.value) == "unknown kind 'audio'; use image, text or features."
    assert get_kind("image") is KINDS["image"] and get_kind("text") is KINDS["text"]
    assert get_kind("features") is KINDS["features"]


def _call(kind: Kind, hook: str):
    """The hook with placeholder arguments: the base class raises NotImplementedError
    before it looks at them, an implementation fails on them some other way, or answers."""
    attr = getattr(type(kind), hook)
    if isinstance(attr, property):
        return getattr(kind, hook)
    n = len(inspect.signature(attr).parameters) - 1  # without self
    return getattr(kind, hook)(*[None] * n)


@pytest.mark.parametrize("name", sorted(KINDS))
def test_every_registered_kind_implements_every_hook(name):
    kind = KINDS[name]
    assert kind.name == name
    for hook in Kind.HOOKS:
        assert getattr(type(kind), hook) is not getattr(Kind, hook), f"{name} lacks {hook}"
        try:
            _call(kind, hook)
        except NotImplementedError:
            pytest.fail(f"{name}.{hook} is not implemented")
        except Exception:  # the placeholder arguments: any other failure is fine
            pass


def test_the_base_hooks_are_abstract():
    base = Kind()
    for hook in Kind.HOOKS:
        with pytest.raises(NotImplementedError):
            _call(base, hook)


@pytest.mark.parametrize("name", sorted(KINDS))
def test_every_kind_names_its_defaults(name):
    kind = KINDS[name]
    assert kind.noun and kind.baseline_method and kind.baseline_label and kind.baseline_caption
    assert -1.0 <= kind.dedup_threshold <= 1.0
    assert get_family(kind.default_family).serves(name)  # its default model is made for it
    resolved = TrainConfig().resolved(name, 1000)  # every training default is there
    assert resolved.steps > 0 and resolved.batch_size > 0
    assert kind.train_defaults["schedule"] in ("onecycle", "constant")


def test_kind_inferred_from_the_folder(tmp_path):
    images = make_image_folder(tmp_path / "images", per_class=2)
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("orbit shuttle rocket launch")
    assert infer_kind(images) == "image" and infer_kind(docs) == "text"
    (tmp_path / "empty").mkdir()
    with pytest.raises(SemhashError, match="no image or text files were found in"):
        infer_kind(tmp_path / "empty")


def test_the_registry_imports_no_heavy_library():
    probe = ("import sys, semantic_hashing.retrieval.kinds as k; "
             "print(sorted(m for m in ('numpy', 'PIL', 'scipy', 'torch', 'tqdm', 'sklearn') "
             "if m in sys.modules), list(k.KINDS))")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         timeout=120, check=True).stdout.strip()  # fmt: skip
    assert out == "[] ['image', 'text', 'features']"


def test_sheets_are_the_kinds_to_allow():
    get_kind("image").check_sheet()
    with pytest.raises(SemhashError, match="--sheet draws images; this is a text collection."):
        get_kind("text").check_sheet()
