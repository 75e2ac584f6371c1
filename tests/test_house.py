"""The shape of the code base, as `tools/house.py` measures it."""

from __future__ import annotations


def test_no_kind_name_is_compared_outside_the_kind_modules():
    """Callers ask the input kind (retrieval/kinds) instead of comparing "image" or "text";
    and the model families' registry makes no import circle with the models."""
    import importlib.util
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    spec = importlib.util.spec_from_file_location("house", root / "tools" / "house.py")
    house = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(house)
    report = house.report(root)
    assert report["kind_tests_outside_kind_modules"] == 0, report["files_with_kind_tests"]
    in_circles = {m for group in report["import_circles"] for m in group}
    retrieval = "semantic_hashing.retrieval."
    assert not {
        m
        for m in in_circles
        if m.startswith(tuple(retrieval + n for n in ("models", "families", "kinds")))
    }
