"""`semhash serve`: the web page and JSON API over collections."""

from __future__ import annotations

from pathlib import Path

import click

from semhash.cli import cli, common


@cli.command()
@click.argument(
    "collections", nargs=-1, required=True, metavar="COLLECTION...", type=click.Path(path_type=Path)
)
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (any but loopback is reachable by others).")  # fmt: skip
@click.option("--port", default=8000, show_default=True, type=int, help="Port (1-65535).")
@common
def serve(collections, host, port):
    """Serve a web page and a JSON API to search COLLECTION(s) by example (read-only).

    Open http://127.0.0.1:8000/ to drop an image (or type text) and browse neighbours;
    the API is documented at /docs."""
    from semhash.server.run import serve as run

    def ready(url, names):
        click.echo(f"serving {', '.join(names)} at {url} (API docs at {url}docs); Ctrl-C stops")

    run(collections, host, port, on_ready=ready)


@cli.command("bench-serve")
@click.argument("collection", type=click.Path(path_type=Path))
@click.option("--requests", "n", default=1000, show_default=True, help="Sequential requests.")
@click.option("--clients", default=8, show_default=True, help="Concurrent clients.")
@click.option("--concurrent-requests", default=1000, show_default=True,
              help="Requests of the concurrent clients, in all.")  # fmt: skip
@click.option("--cli-runs", default=5, show_default=True, help="Runs of one-shot `search`.")
@click.option("--out", default="serve-bench", show_default=True, type=click.Path(path_type=Path),
              help="Folder for serve-bench.json and serve-bench.md.")  # fmt: skip
@common
def bench_serve(collection, n, clients, concurrent_requests, cli_runs, out):
    """Latency and throughput of `semhash serve` on COLLECTION (image uploads, top 10)
    against the one-shot `semhash search` command."""
    from semhash.server.bench import ServeBenchOptions, as_table, run_serve_bench

    counts = {"--requests": n, "--clients": clients, "--cli-runs": cli_runs,
              "--concurrent-requests": concurrent_requests}  # fmt: skip
    for name, value in counts.items():
        if value < 1:
            raise click.BadParameter(f"{name} must be at least 1.")
    opts = ServeBenchOptions(Path(collection), n, clients, concurrent_requests, cli_runs, out=out)
    report = run_serve_bench(opts)
    click.echo(as_table(report))
    click.echo(f"report: {out / 'serve-bench.json'}")
