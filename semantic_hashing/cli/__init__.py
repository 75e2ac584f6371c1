"""The `semhash` command line: parses options and calls the library, nothing more.

The group lives here; each command lives in the module of its job (`store`, `answer`,
`jobs`, `serve`) and shares its options through `options`. Other packages add commands
through the `semantic_hashing.commands` entry point (the benchmarks do), so this package
never imports them. Heavy imports happen inside each command: `semhash --help` stays fast.
"""

from __future__ import annotations

import logging
from importlib.metadata import entry_points

import click

from semantic_hashing.cli import answer, jobs, serve, store
from semantic_hashing.cli.options import SemhashGroup
from semantic_hashing.retrieval import __version__

__all__ = ["cli", "main"]

log = logging.getLogger("semhash")
PLUGIN_GROUP = "semantic_hashing.commands"  # entry points: a list of click commands each


class Cli(SemhashGroup):
    """The group: built-in commands, then those of installed plugins on first need."""

    _plugins_loaded = False

    def _load_plugins(self) -> None:
        if self._plugins_loaded:
            return
        self._plugins_loaded = True
        for point in entry_points(group=PLUGIN_GROUP):
            try:
                commands = point.load()
            except ImportError as exc:  # an extra that is not installed
                log.debug("commands of %s not loaded: %s", point.name, exc)
                continue
            for command in commands:
                self.add_command(command)

    def list_commands(self, ctx):
        self._load_plugins()
        return super().list_commands(ctx)

    def get_command(self, ctx, name):
        command = super().get_command(ctx, name)
        if command is None:
            self._load_plugins()
            command = super().get_command(ctx, name)
        return command


@click.group(cls=Cli)
@click.version_option(__version__, prog_name="semhash")
def cli():
    """semhash: "more like this" search over images and documents with semantic hashing.

    Index a folder, then search it by example. Codes are learned without labels.
    """


for _command in (
    store.train, store.index, store.remove, store.check, store.info,
    answer.search, answer.evaluate, answer.demo, answer.data,
    jobs.dedup, jobs.outliers, jobs.reconstruct, serve.serve,
):  # fmt: skip
    cli.add_command(_command)


def main() -> None:
    cli(prog_name="semhash")
