"""The README's Python snippet runs verbatim, and every command has help text."""

import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from semantic_hashing.cli import cli

from .conftest import make_image_folder

README = Path(__file__).resolve().parents[1] / "README.md"


def readme_snippet(heading: str) -> str:
    section = README.read_text().split(f"## {heading}", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert blocks, f"no python block under '## {heading}'"
    return blocks[0]


def test_library_snippet_runs_verbatim(tmp_path, monkeypatch, capsys):
    make_image_folder(tmp_path / "photos", per_class=20)
    Image.open(tmp_path / "photos" / "columns" / "columns-003.png").save(tmp_path / "query.jpg",
                                                                         quality=95)  # fmt: skip
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
