"""The `semhash` command line: parses options and calls the library, nothing more.

This module is the one shell above `retrieval`, `indexer` and `query`; the heavy imports
happen inside each command so that `semhash --help` stays fast.
"""

from __future__ import annotations

import functools
import json
import logging
import sys
from pathlib import Path

import click

from retrieval import __version__
from retrieval.errors import SemhashError

log = logging.getLogger("semhash")


class SemhashGroup(click.Group):
    """Turns user mistakes into one sentence on stderr and exit code 1."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except SemhashError as exc:
            raise click.ClickException(str(exc)) from None
        except KeyboardInterrupt:
            raise click.Abort() from None


def _setup(quiet: bool, verbose: bool) -> None:
    from retrieval.progress import set_progress

    level = logging.WARNING if quiet else logging.DEBUG if verbose else logging.INFO
    logging.basicConfig(
        level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    for noisy in ("PIL", "matplotlib"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # Milvus Lite's in-process gRPC server logs a traceback for an optional call it lacks
    logging.getLogger("grpc._server").setLevel(logging.CRITICAL)
    set_progress(not quiet)


def common(fn):
    """--quiet / --verbose on every command."""

    @click.option("-q", "--quiet", is_flag=True, help="No progress bars, warnings only.")
    @click.option("-v", "--verbose", is_flag=True, help="Debug logging.")
    @functools.wraps(fn)
    def wrapper(*args, quiet: bool, verbose: bool, **kwargs):
        _setup(quiet, verbose)
        return fn(*args, **kwargs)

    return wrapper


def training_options(fn):
    """Options shared by `train` and `index`."""
    options = [
        click.option("--bits", default=64, show_default=True, help="Code length (multiple of 8)."),
        click.option(
            "--epochs", default=None, type=int, help="Training epochs (default: model's)."
        ),
        click.option(
            "--image-size", default=0, help="Square input size (default 28 gray, 32 colour)."
        ),
        click.option(
            "--model-type", default="conv-dae", show_default=True, help="Autoencoder family."
        ),
        click.option("--seed", default=0, show_default=True, help="Random seed for training."),
        click.option("--device", default="auto", show_default=True, help="auto, cpu or cuda."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def _index_options(bits, epochs, image_size, model_type, seed, device, **extra):
    from indexer.pipeline import IndexOptions
    from retrieval.training import TrainConfig

    tcfg = TrainConfig(seed=seed)
    if epochs is not None:
        if epochs < 1:
            raise SemhashError("--epochs must be at least 1.")
        tcfg.epochs = epochs
    return IndexOptions(bits=bits, image_size=image_size, device=device, train=tcfg,
                        model_type=model_type, **extra)  # fmt: skip


STRATEGY_CHOICES = ("flat", "hash", "ivf", "hnsw")


def backend_options(fn):
    """--backend and --uri, shared by `index` and `search`."""
    fn = click.option("--uri", help="Milvus server URI (http://host:19530) or a Milvus Lite "
                      "file [default: milvus.db in the collection].")(fn)  # fmt: skip
    return click.option("--backend", type=click.Choice(["faiss", "milvus"]),
                        help="Where codes live [default: the collection's; faiss for a new "
                             "one]. Metadata stays in SQL.")(fn)  # fmt: skip


def strategy_options(fn):
    """--strategy and its knobs, shared by `search` and `bench-scale`."""
    options = [
        click.option(
            "--strategy",
            type=click.Choice(STRATEGY_CHOICES),
            help="Index: exact flat scan, hash lookup + re-rank, ivf or hnsw "
            "[default: flat below 2M items, ivf above].",
        ),  # fmt: skip
        click.option("--nhash", default=0, help="hash: tables (0: code bits // b)."),
        click.option(
            "--hash-bits", "b", default=0, help="hash: address bits per table (0: about log2 N)."
        ),  # fmt: skip
        click.option(
            "--hash-radius",
            default=1,
            show_default=True,
            help="hash: address bits flipped per table at query time.",
        ),  # fmt: skip
        click.option("--nlist", default=0, help="ivf: cells (0: about 4 sqrt N)."),
        click.option("--nprobe", default=16, show_default=True, help="ivf: cells scanned."),
        click.option("--hnsw-m", default=16, show_default=True, help="hnsw: graph degree."),
        click.option("--ef-search", default=128, show_default=True, help="hnsw: search beam."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def _strategy_params(nhash, b, hash_radius, nlist, nprobe, hnsw_m, ef_search):
    from indexer.strategies import StrategyParams

    return StrategyParams(nhash=nhash, b=b, radius=hash_radius, nlist=nlist, nprobe=nprobe,
                          M=hnsw_m, ef_search=ef_search)  # fmt: skip


@click.group(cls=SemhashGroup)
@click.version_option(__version__, prog_name="semhash")
def cli():
    """semhash: "more like this" search over images and documents with semantic hashing.

    Index a folder, then search it by example. Codes are learned without labels.
    """


@cli.command()
@click.argument("folder", type=click.Path(path_type=Path))
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Model file to write.")
@training_options
@common
def train(folder, out, **kwargs):
    """Train a hashing autoencoder on the images in FOLDER and save it to --out."""
    from indexer.pipeline import train_folder

    info = train_folder(folder, out, _index_options(**kwargs))
    click.echo(f"trained on {info['items']} images in {info['seconds']:.1f} s -> {out} "
               f"(fingerprint {info['fingerprint']})")  # fmt: skip
    _report_skipped(info["skipped"])


@cli.command()
@click.argument("folder", type=click.Path(path_type=Path))
@click.option("--collection", "-c", required=True, type=click.Path(path_type=Path),
              help="Collection folder to create or extend.")  # fmt: skip
@click.option("--model", "model_path", type=click.Path(path_type=Path),
              help="Use this trained model instead of training on the folder.")  # fmt: skip
@click.option("--db", "db_url", help="SQLAlchemy URL for metadata (default: SQLite inside).")
@backend_options
@training_options
@common
def index(folder, collection, model_path, db_url, backend, uri, **kwargs):
    """Index every image below FOLDER into a collection (trains a model if none is given)."""
    from indexer.pipeline import index_folder

    opts = _index_options(**kwargs, model_path=model_path, db_url=db_url, backend=backend,
                          uri=uri)  # fmt: skip
    report = index_folder(folder, collection, opts)
    _print_index_report(report)


def _print_index_report(report) -> None:
    t = report.timings
    click.echo(
        f"{report.collection}: added {report.added}, unchanged {report.unchanged}, "
        f"skipped {len(report.skipped)}; {report.total} items in the collection"
    )
    if "train" in t:
        click.echo(f"training: {t['train']:.1f} s")
    if report.added:
        click.echo(f"encoding: {report.items_per_second:,.0f} items/s")
    _report_skipped(report.skipped)


def _report_skipped(skipped) -> None:
    for path, reason in skipped[:20]:
        click.echo(f"skipped {path}: {reason}", err=True)
    if len(skipped) > 20:
        click.echo(
            f"... and {len(skipped) - 20} more skipped (see the collection's index.log)", err=True
        )


@cli.command()
@click.argument("collection", type=click.Path(path_type=Path))
@click.option("--query", "query_path", type=click.Path(path_type=Path),
              help="An image file, or a folder of images (one result set each).")  # fmt: skip
@click.option("--id", "item_ids", type=int, multiple=True, help="Search with a stored item.")
@click.option("-k", "k", type=int, default=None, help="Number of neighbours [default: 10].")
@click.option("--radius", type=int, help="All items within this Hamming distance instead.")
@click.option("--baseline", type=click.Choice(["raw"]), help="Answer with a raw-data baseline.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per query per line.")
@click.option("--sheet", type=click.Path(path_type=Path), help="Write a contact sheet PNG.")
@click.option("--device", default="cpu", show_default=True, help="auto, cpu or cuda.")
@strategy_options
@backend_options
@common
def search(collection, query_path, item_ids, k, radius, baseline, as_json, sheet, device,
           strategy, backend, uri, **knobs):  # fmt: skip
    """Find the items of COLLECTION most like a query image, folder or stored id."""
    from indexer.collection import Collection
    from query import render
    from query import search as s

    if (query_path is None) == (not item_ids):
        raise SemhashError("give exactly one of --query or --id.")
    if radius is not None and baseline:
        raise SemhashError("--radius applies to codes only, not to --baseline.")
    coll = Collection.open(collection, device, uri)
    if backend and backend != coll.backend:
        raise SemhashError(f"{collection} keeps its codes in {coll.backend}, not {backend}.")
    queries = (
        s.id_queries(coll, list(item_ids)) if item_ids else s.load_image_queries(coll, query_path)
    )
    results = s.search(coll, queries, k=k if k or radius is not None else 10, radius=radius,
                       baseline=baseline, strategy=strategy,
                       params=_strategy_params(**knobs))  # fmt: skip
    click.echo(render.as_json_lines(results) if as_json else render.as_table(results))
    if sheet:
        render.contact_sheet(results, sheet)
        log.info("contact sheet written to %s", sheet)
    _report_skipped(queries.skipped)


@cli.command()
@click.argument("collection", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the sidecar as JSON.")
@common
def info(collection, as_json):
    """Describe a collection: kind, code length, model, counts, labels."""
    from indexer.collection import Collection

    coll = Collection.open(collection)
    labels = coll.meta.labels()
    data = {
        **coll.info,
        "items": len(coll.index),
        "metadata_rows": len(labels),
        "labels": len(set(labels.values())),
        "model": coll.encoder.config.to_dict(),
    }
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    for key in ("kind", "bits", "model_type", "model_fingerprint", "items", "metadata_rows",
                "labels", "created_at", "updated_at"):  # fmt: skip
        click.echo(f"{key:18} {data.get(key)}")
    click.echo(f"{'versions':18} {data.get('versions')}")


@cli.command()
@click.option("--out", default="semhash-demo", show_default=True, type=click.Path(path_type=Path),
              help="Folder for the collection, queries and contact sheets.")  # fmt: skip
@click.option("--epochs", default=None, type=int, help="Training epochs (default: model's).")
@click.option("--device", default="auto", show_default=True, help="auto, cpu or cuda.")
@common
def demo(out, epochs, device):
    """Index Fashion-MNIST, search it against the raw-pixel baseline, and measure P@100."""
    from query import render
    from query.demo import run_demo

    opts = _index_options(64, epochs, 0, "conv-dae", 0, device)
    rep = run_demo(out, opts)
    _print_index_report(rep.index)
    for codes, raw in rep.shown:
        click.echo("")
        click.echo(render.as_table([codes], root=str(Path(codes.results[0].path).parents[1])))
        click.echo(render.as_table([raw], root=str(Path(raw.results[0].path).parents[1])))
    q = rep.quality
    click.echo("")
    click.echo("retrieval quality on 1,000 seeded test queries (relevant = same class):")
    for name, label in (("codes", "64-bit codes (Hamming)"), ("raw", "raw pixels (Euclidean)")):
        m = q[name]
        click.echo(
            f"  {label:24} P@10 {m['p@10']:.3f}  P@100 {m['p@100']:.3f}"
            f"  mAP@1000 {m['map@1000']:.3f}"
        )
    click.echo(f"contact sheets: {', '.join(str(p) for p in rep.sheets)}")
    click.echo("wall time: " + ", ".join(f"{k} {v:.0f} s" for k, v in rep.timings.items()))


def _count(text: str) -> int:
    scale = {"k": 1_000, "m": 1_000_000}.get(text[-1:].lower(), 1)
    try:
        return int(float(text[:-1] if scale > 1 else text) * scale)
    except ValueError:
        raise SemhashError(f"{text!r} is not a size such as 60000, 60k or 1M.") from None


@cli.command("bench-scale")
@click.option("--out", default="scale-bench", show_default=True, type=click.Path(path_type=Path),
              help="Folder for the model, scale-report.json and scale-table.txt.")  # fmt: skip
@click.option("--sizes", default="60k,1M,10M", show_default=True,
              help="Comma-separated collection sizes.")  # fmt: skip
@click.option("--strategies", default="flat,hash,ivf,hnsw", show_default=True,
              help="Comma-separated strategies to measure.")  # fmt: skip
@click.option("--model", type=click.Path(path_type=Path, exists=True),
              help="A trained 64-bit model (default: train one on Fashion-MNIST).")  # fmt: skip
@click.option("--collection", type=click.Path(path_type=Path, exists=True),
              help="Take the model of this collection.")  # fmt: skip
@click.option("--epochs", default=2, show_default=True, help="Epochs when training here.")
@click.option("--queries", default=1000, show_default=True, help="Seeded test queries.")
@click.option("--raw-queries", default=200, show_default=True,
              help="Queries for raw-float runs above 100k items.")  # fmt: skip
@click.option("--raw-max-n", default="1M", show_default=True,
              help="Largest size searched with raw floats (1M x 784 floats = 3.1 GB).")  # fmt: skip
@click.option("--hnsw-max-n", default="1M", show_default=True,
              help="Largest size given an HNSW graph (slow to build).")  # fmt: skip
@click.option("--encode-budget", default=300.0, show_default=True,
              help="Seconds to encode augmented images; fitted codes fill the rest.")  # fmt: skip
@common
def bench_scale(out, sizes, strategies, model, collection, epochs, queries, raw_queries,
                raw_max_n, hnsw_max_n, encode_budget):  # fmt: skip
    """Latency, recall@100, memory and build time of each strategy from 60k to 10M codes."""
    from query.scale import ScaleOptions, as_table, run_scale

    if collection is not None:
        model = Path(collection) / "model.pt"
    names = tuple(x.strip() for x in strategies.split(",") if x.strip())
    unknown = set(names) - set(STRATEGY_CHOICES)
    if unknown:
        raise SemhashError(f"unknown strategy {sorted(unknown)[0]!r}.")
    opts = ScaleOptions(
        out=out, sizes=tuple(_count(x) for x in sizes.split(",")), strategies=names,
        model=model, epochs=epochs, n_queries=queries, raw_queries=raw_queries,
        raw_max_n=_count(raw_max_n), hnsw_max_n=_count(hnsw_max_n),
        encode_budget_s=encode_budget,
    )  # fmt: skip
    report = run_scale(opts)
    click.echo(as_table(report))
    click.echo(f"report: {out / 'scale-report.json'} ({report['wall_s']:.0f} s)")


def main() -> None:
    cli(prog_name="semhash")


if __name__ == "__main__":
    main()
