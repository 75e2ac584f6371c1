"""The README and the documentation stay a user's: the README is short, no page carries
issue numbers, temporary paths or clock times, and every Python snippet runs verbatim.
Every command has help text."""

import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from semantic_hashing.cli import cli

from .conftest import make_image_folder

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("**/*.md"))
PAGES = [README, *DOCS]
PYTHON_BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)

# What belongs in a lab notebook, not in a user's documentation.
FORBIDDEN = {
    "an issue number": re.compile(r"\bissues? \d+|(?<![\w&/])#\d+\b", re.I),
    "a temporary path": re.compile(r"(?<![\w.])/tmp/"),
    "a clock time": re.compile(r"(?<![\d.:])\d{1,2}:\d{2}(?::\d{2})?(?![\d:])|\bUTC\b"),
    "a remark on machine load": re.compile(r"\bunder load\b|\bload average\b", re.I),
    "session history": re.compile(r"\b(?:this|last|previous|earlier) session\b", re.I),
}


def readme_snippet(heading: str) -> str:
    section = README.read_text().split(f"## {heading}", 1)[1].split("\n## ", 1)[0]
    blocks = PYTHON_BLOCK.findall(section)
    assert blocks, f"no python block under '## {heading}'"
    return blocks[0]


def photos_and_query(root: Path) -> None:
    """What the snippets expect in their folder: photos/ and query.jpg (a JPEG copy of an
    indexed PNG)."""
    make_image_folder(root / "photos", per_class=20)
    Image.open(root / "photos" / "columns" / "columns-003.png").save(root / "query.jpg",
                                                                     quality=95)  # fmt: skip


def test_readme_is_short():
    lines = len(README.read_text().splitlines())
    assert lines < 300, f"README.md has {lines} lines; move detail into docs/"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_pages_are_free_of_notebook_residue(page):
    text = page.read_text()
    for what, pattern in FORBIDDEN.items():
        found = [m.group(0) for m in pattern.finditer(text)]
        assert not found, f"{page.name} carries {what}: {found[:5]}"


def test_library_snippet_runs_verbatim(tmp_path, monkeypatch, capsys):
    photos_and_query(tmp_path)
    monkeypatch.chdir(tmp_path)
    exec(compile(readme_snippet("As a library"), "README.md", "exec"), {})
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "60 items indexed, 0 skipped"
    hits = [line.split() for line in out[1:11]]
    assert len(hits) == 10
    assert [int(h[1]) for h in hits] == sorted(int(h[1]) for h in hits)  # by distance
    assert hits[0][2:] == ["columns", str(tmp_path / "photos/columns/columns-003.png")]
    assert int(hits[0][1]) <= 2  # the JPEG copy of an indexed PNG: its own item comes first
    assert out[11].startswith("60 ")  # info()["items"], then the best hit's path


def test_every_command_has_help():
    runner = CliRunner()
    for name in cli.list_commands(None):  # the benchmarks' commands come from a plugin
        command = cli.get_command(None, name)
        assert command.help and command.help.strip(), name
        result = runner.invoke(cli, [name, "--help"])
        assert result.exit_code == 0, (name, result.output)
        assert "Usage:" in result.output


@pytest.mark.parametrize("name", ["Collection", "open", "index", "SemhashError", "QueryResult"])
def test_public_names_are_exported(name):
    import semantic_hashing as sh

    assert name in sh.__all__
    assert getattr(sh, name) is not None


@pytest.mark.parametrize(
    "page", [p for p in DOCS if PYTHON_BLOCK.search(p.read_text())], ids=lambda p: p.name
)
def test_docs_python_blocks_run(page, tmp_path, monkeypatch):
    """Every ```python block of a page runs, in order and in one namespace, in a folder
    with photos/ and query.jpg; examples that cannot run here use another fence."""
    photos_and_query(tmp_path)
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    for number, block in enumerate(PYTHON_BLOCK.findall(page.read_text()), 1):
        exec(compile(block, f"{page.name}, python block {number}", "exec"), namespace)
