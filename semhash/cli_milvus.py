"""`semhash bench-milvus`: what a Milvus server costs per query, next to FAISS flat."""

from __future__ import annotations

from pathlib import Path

import click

from semhash.cli import _count, cli, common


@cli.command("bench-milvus")
@click.option("--out", default="milvus-bench", show_default=True, type=click.Path(path_type=Path),
              help="Folder for the model and milvus-report.json.")  # fmt: skip
@click.option("--sizes", default="60k,1M", show_default=True,
              help="Comma-separated numbers of codes.")  # fmt: skip
@click.option("--model", type=click.Path(path_type=Path, exists=True),
              help="A trained 64-bit model (default: train one on Fashion-MNIST).")  # fmt: skip
@click.option("--epochs", default=2, show_default=True, help="Epochs when training here.")
@click.option("--queries", default=200, show_default=True, help="Seeded test queries.")
@click.option("--uri", help="A running Milvus server [default: start the embedded one].")
@common
def bench_milvus(out, sizes, model, epochs, queries, uri):
    """Latency and recall@100 of a Milvus server (BIN_FLAT, Hamming) next to FAISS flat on
    the scale benchmark's Fashion-MNIST codes, one query at a time."""
    from query.scale_milvus import MilvusBenchOptions, as_table, run_milvus_bench

    opts = MilvusBenchOptions(out=out, sizes=tuple(_count(x) for x in sizes.split(",")),
                              model=model, epochs=epochs, n_queries=queries, uri=uri)  # fmt: skip
    report = run_milvus_bench(opts)
    click.echo(as_table(report))
    click.echo(f"report: {out / 'milvus-report.json'} ({report['wall_s']:.0f} s)")
