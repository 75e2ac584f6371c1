"""`semhash serve`: the web page and JSON API over collections."""

from __future__ import annotations

from pathlib import Path

import click

from semantic_hashing.cli.options import common


@click.command()
@click.argument(
    "collections", nargs=-1, required=True, metavar="COLLECTION...", type=click.Path(path_type=Path)
)
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (any but loopback is reachable by others).")  # fmt: skip
@click.option("--port", default=8000, show_default=True, type=int, help="Port (1-65535).")
@click.option("--allowed-hosts", "allowed_hosts", multiple=True, metavar="NAMES",
              help="Host names the server answers for, comma-separated or repeated "
                   "(*.example.org, or * for any); others get a 400 [default: --host, "
                   "localhost, 127.0.0.1, ::1].")  # fmt: skip
@click.option("--workers", default=1, show_default=True, type=int,
              help="Processes answering (1-64), each with its own copy of the collections' "
                   "codes and model: more answer concurrent clients faster on more "
                   "cores.")  # fmt: skip
@common
def serve(collections, host, port, allowed_hosts, workers):
    """Serve a workspace and a JSON API over COLLECTION(s) (read-only).

    Open http://127.0.0.1:8000/ to browse each collection a page at a time, search it by
    example (drop an image, or type text), open items, review duplicates, outliers and
    reconstructions; every view has its own address. The API is documented at /docs."""
    from semantic_hashing.server.run import serve as run

    def ready(url, names):
        click.echo(f"serving {', '.join(names)} at {url} (API docs at {url}docs); Ctrl-C stops")

    hosts = [h.strip() for given in allowed_hosts for h in given.split(",") if h.strip()]
    run(collections, host, port, on_ready=ready, allowed_hosts=hosts or None, workers=workers)
