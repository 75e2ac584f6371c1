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
from retrieval.presets import PRESETS

log = logging.getLogger("semhash")


class SemhashGroup(click.Group):
    """Turns user mistakes into one sentence on stderr and exit code 1."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except SemhashError as exc:
            raise click.ClickException(str(exc)) from None
        except OSError as exc:  # a read-only folder, a full disk: one sentence too
            where = f" {exc.filename}" if exc.filename else ""
            raise click.ClickException(
                f"cannot write or read{where}: {exc.strerror or exc}."
            ) from None
        except KeyboardInterrupt:
            raise click.Abort() from None


def _setup(quiet: bool, verbose: bool) -> None:
    from retrieval.progress import set_progress

    for stream in (sys.stdout, sys.stderr):  # file names that are not UTF-8 print as \xNN
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    level = logging.WARNING if quiet else logging.DEBUG if verbose else logging.INFO
    logging.basicConfig(
        level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    for noisy in ("PIL", "matplotlib", "faiss.loader", "pymilvus", "milvus_lite"):
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


def backend_options(fn):
    """--backend and --uri, shared by `index` and `search`."""
    fn = click.option("--uri", help="Milvus server URI (http://host:19530) or a Milvus Lite "
                      "file [default: milvus.db in the collection].")(fn)  # fmt: skip
    return click.option("--backend", type=click.Choice(["faiss", "milvus"]),
                        help="Where codes live [default: the collection's; faiss for a new "
                             "one]. Metadata stays in SQL.")(fn)  # fmt: skip


QUALITY_OPTION = click.option(
    "--quality",
    type=click.Choice(list(PRESETS)),
    default="default",
    show_default=True,
    help="Training preset. high: a stronger recipe per input, trained longer: gray images "
    "8,000+ steps of a 2x wide model (60,000 images: 16 min on 2 CPU cores against 1 min), "
    "colour images 4,000+ steps with contrastive views (50,000 images: 6-7 min against 1.5); "
    "text as default. README: what each gains.",
)


def training_options(fn):
    """Options shared by `train` and `index`."""
    options = [
        click.option("--bits", default=64, show_default=True, help="Code length (multiple of 8)."),
        click.option("--epochs", type=int,
                     help="Epochs (default: a step budget sized to the collection)."),
        click.option("--kind", type=click.Choice(["image", "text"]),
                     help="Collection kind (default: inferred from the files)."),
        click.option("--image-size", default=0, help="Square input size (28 gray, 32 color)."),
        click.option("--vocab", default=10_000, show_default=True, help="Vocabulary size (text)."),
        click.option("--vocab-by", type=click.Choice(["count", "df"]), default="count",
                     show_default=True, help="Rank words by document frequency or total "
                     "count (text)."),
        click.option("--model-type", default="", help="Autoencoder family (default: the kind's)."),
        click.option("--seed", default=0, show_default=True, help="Random seed for training."),
        QUALITY_OPTION,
        click.option("--device", default="auto", show_default=True, help="auto, cpu or cuda."),
    ]  # fmt: skip
    for option in reversed(options + LISTING_OPTIONS):
        fn = option(fn)
    return fn


LISTING_OPTIONS = [
    click.option("--include-hidden", is_flag=True,
                 help="Also take hidden files and folders (names starting with '.') and junk "
                      "folders (@eaDir, __MACOSX, .thumbnails, ...)."),
    click.option("--exclude", multiple=True, metavar="GLOB",
                 help="Leave out files and folders whose path below FOLDER or whose name "
                      "matches (repeatable)."),
    click.option("--include", multiple=True, metavar="GLOB",
                 help="Take only files whose path below FOLDER or whose name matches "
                      "(repeatable)."),
    click.option("--follow-links", is_flag=True,
                 help="Enter symlinked folders (each real folder once; loops end)."),
    click.option("--workers", type=int,
                 help="Files read and decoded in parallel [default: every core]."),
]  # fmt: skip


def _settings(bits, epochs, kind, image_size, vocab, model_type, seed, device,
              include_hidden, exclude, include, follow_links, workers,
              vocab_by="count", quality="default") -> dict:  # fmt: skip
    """The training and listing options as keyword settings of `semhash.index` /
    `semhash.train`."""
    return dict(bits=bits, epochs=epochs, kind=kind, image_size=image_size, vocab=vocab,
                model_type=model_type, seed=seed, device=device, include_hidden=include_hidden,
                exclude=exclude, include=include, follow_links=follow_links,
                workers=workers, vocab_by=vocab_by, quality=quality)  # fmt: skip


STRATEGY_CHOICES = ("flat", "hash", "ivf", "hnsw")


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
    """Train a hashing autoencoder on the images or documents in FOLDER, save it to --out."""
    from query import api

    info = api.train(folder, out, **_settings(**kwargs))
    click.echo(f"trained on {info['items']} items in {info['seconds']:.1f} s -> {out} "
               f"(fingerprint {info['fingerprint']})")  # fmt: skip
    _report_skipped(info["skipped"])


@cli.command()
@click.argument("folder", type=click.Path(path_type=Path))
@click.option("--collection", "-c", required=True, type=click.Path(path_type=Path),
              help="Collection folder to create or extend.")  # fmt: skip
@click.option("--model", "model_path", type=click.Path(path_type=Path),
              help="Use this trained model instead of training on the folder.")  # fmt: skip
@click.option("--db", "db_url", help="SQLAlchemy URL for metadata, e.g. postgresql://user@host/db "
              "(default: $SEMHASH_DB_URL, else SQLite inside).")  # fmt: skip
@click.option("--prune", is_flag=True, help="Remove entries whose files are gone.")
@click.option("--rebuild", is_flag=True, help="Re-encode everything with --model.")
@click.option(
    "--chunk-size",
    default=4096,
    show_default=True,
    help="Items committed together; a killed run resumes after the last chunk.",
)
@backend_options
@training_options
@common
def index(folder, collection, model_path, db_url, prune, rebuild, chunk_size, backend, uri,
          **kwargs):  # fmt: skip
    """Index every image or document below FOLDER into a collection.

    Trains a model on the folder unless --model is given. Run it again to bring the
    collection up to date: only new or changed files are encoded."""
    from query import api

    report = api.index(folder, collection, model=model_path, db_url=db_url, prune=prune,
                       rebuild=rebuild, chunk_size=chunk_size, backend=backend, uri=uri,
                       **_settings(**kwargs))  # fmt: skip
    _print_index_report(report)


def _print_index_report(report) -> None:
    t = report.timings
    click.echo(
        f"{report.collection}: added {report.added}, changed {report.changed}, "
        f"unchanged {report.unchanged}, removed {report.removed}, "
        f"skipped {len(report.skipped)}; {report.total} items in the collection"
    )
    if report.left_out:
        parts = ", ".join(f"{k} {v}" for k, v in sorted(report.left_out.items()))
        click.echo(f"left out by rule: {parts} (see --include-hidden, --exclude, --include)")
    if "train" in t:
        click.echo(f"training: {t['train']:.1f} s")
    if n := report.added + report.changed:
        things = "photos" if report.kind == "image" else "documents"
        busy = sum(t.get(k, 0.0) for k in ("read", "encode", "write"))
        click.echo(
            f"{n:,} {things} in {busy:.1f} s: {report.files_per_second:,.0f} {things}/s on "
            f"{report.workers} workers (waiting for reads {t.get('read', 0):.1f} s, encoding "
            f"{t.get('encode', 0):.1f} s, writing {t.get('write', 0):.1f} s)"
        )
    _report_skipped(report.skipped)


@cli.command()
@click.argument("collection", type=click.Path(path_type=Path))
@click.option(
    "--path",
    "path",
    type=click.Path(path_type=Path),
    help="Remove everything indexed at or below this path.",
)
@click.option("--id", "item_ids", type=int, multiple=True, help="Remove this item.")
@common
def remove(collection, path, item_ids):
    """Remove items from COLLECTION by path or id (search never returns them again)."""
    from query import api

    if path is None and not item_ids:
        raise SemhashError("give --path or --id.")
    n = api.remove(collection, item_ids, path)
    click.echo(f"removed {n} items from {collection}")


@cli.command()
@click.argument("collection", type=click.Path(path_type=Path))
@click.option("--repair", is_flag=True, help="Fix what is found (takes the writer's lock).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@common
def check(collection, repair, as_json):
    """Verify that index, metadata and stored inputs of COLLECTION agree."""
    from query import api

    result = api.check(collection, repair)
    if as_json:
        click.echo(json.dumps(result))
        return
    click.echo(f"{collection}: {result['items']} items")
    for name, n in result["problems"].items():
        click.echo(f"  {name}: {n}")
    if repair:
        done = {name: n for name, n in result["repaired"].items() if n}
        click.echo(f"repaired: {done or 'nothing to repair'}")
    after = result.get("problems_after", result["problems"])
    if any(after.values()):
        raise SemhashError("the collection has problems; run `semhash check --repair`.")
    click.echo("ok")


def _report_skipped(skipped) -> None:
    for path, reason in skipped[:20]:
        click.echo(f"skipped {path}: {reason}", err=True)
    if len(skipped) > 20:
        click.echo(
            f"... and {len(skipped) - 20} more skipped (see the collection's index.log)", err=True
        )


@cli.command()
@click.argument("collection", type=click.Path(path_type=Path))
@click.option(
    "--query",
    "query_path",
    type=click.Path(path_type=Path),
    help="A file, or a folder of files (one result set each).",
)
@click.option("--text", "query_text", help="Search a text collection with this text.")
@click.option("--id", "item_ids", type=int, multiple=True, help="Search with a stored item.")
@click.option("-k", "k", type=int, help="Number of neighbours [default: 10].")
@click.option("--radius", type=int, help="All items within this Hamming distance instead.")
@click.option(
    "--baseline",
    type=click.Choice(["raw"]),
    help="Answer with the raw-data baseline (pixels L2, text TF-IDF cosine).",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per query per line.")
@click.option("--sheet", type=click.Path(path_type=Path), help="Write a contact sheet PNG.")
@click.option("--device", default="cpu", show_default=True, help="auto, cpu or cuda.")
@click.option("--asymmetric", is_flag=True,
              help="Re-rank the 1,000 nearest codes (or the --radius ball) by the distance of "
                   "the unquantised query to each stored code: finer than Hamming; distances "
                   "shown are then squared Euclidean.")  # fmt: skip
@strategy_options
@backend_options
@common
def search(collection, query_path, query_text, item_ids, k, radius, baseline, as_json, sheet,
           device, asymmetric, strategy, backend, uri, **knobs):  # fmt: skip
    """Find the items of COLLECTION most like a query file, folder, text or stored id."""
    from query import api, render

    if sum([query_path is not None, query_text is not None, bool(item_ids)]) != 1:
        raise SemhashError("give exactly one of --query, --text or --id.")
    if sheet is not None:
        render.check_sheet(sheet)
    with api.open(collection, device=device, uri=uri) as coll:
        if backend and backend != coll.store.backend:
            raise SemhashError(f"{collection} keeps its codes in {coll.store.backend}, "
                               f"not {backend}.")  # fmt: skip
        if sheet and coll.kind != "image":
            raise SemhashError("--sheet draws images; this is a text collection.")
        k = k if k is not None or radius is not None else 10
        how = dict(k=k, radius=radius, baseline=baseline, strategy=strategy,
                   params=_strategy_params(**knobs), asymmetric=asymmetric)  # fmt: skip
        if query_text is not None:
            batch = api.Batch([coll.search(text=query_text, **how)])
        elif item_ids:
            batch = coll.search_batch(ids=list(item_ids), **how)
        elif query_path.is_dir():
            batch = coll.search_batch(query_path, **how)
        else:
            batch = api.Batch([coll.search(query_path, **how)])
    results = batch.results
    click.echo(render.as_json_lines(results) if as_json else render.as_table(results))
    if sheet:
        render.contact_sheet(results, sheet)
        log.info("contact sheet written to %s", sheet)
    _report_skipped(batch.skipped)


@cli.command()
@click.argument("collection", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the sidecar as JSON.")
@common
def info(collection, as_json):
    """Describe a collection: kind, code length, model, counts, labels."""
    from query import api

    with api.open(collection) as coll:
        data = coll.info()
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    for key in ("kind", "bits", "model_type", "model_fingerprint", "items", "metadata_rows",
                "labels", "created_at", "updated_at"):  # fmt: skip
        click.echo(f"{key:18} {data.get(key)}")
    click.echo(f"{'quantiser':18} {data['model'].get('threshold')}")
    click.echo(f"{'versions':18} {data.get('versions')}")


@cli.command()
@click.option("--out", default="semhash-demo", show_default=True, type=click.Path(path_type=Path),
              help="Folder for the collection, queries and contact sheets.")  # fmt: skip
@click.option("--epochs", default=None, type=click.IntRange(min=1),
              help="Epochs (default: a step budget sized to the collection).")  # fmt: skip
@click.option("--device", default="auto", show_default=True, help="auto, cpu or cuda.")
@common
def demo(out, epochs, device):
    """Index Fashion-MNIST, search it against the raw-pixel baseline, and measure P@100."""
    from query import render
    from query.api import index_options
    from query.demo import run_demo

    rep = run_demo(out, index_options(bits=64, epochs=epochs, kind="image", device=device))
    _print_index_report(rep.index)
    for codes, raw in rep.shown:
        click.echo("")
        click.echo(render.as_table([codes], root=str(Path(codes.results[0].path).parents[1])))
        click.echo(render.as_table([raw], root=str(Path(raw.results[0].path).parents[1])))
    q = rep.quality
    click.echo("")
    click.echo("retrieval quality on 1,000 seeded test queries (relevant = same class):")
    _echo_scores(q, "64-bit codes (Hamming)", "  asymmetric re-rank", "raw pixels (Euclidean)")
    click.echo(f"contact sheets: {', '.join(str(p) for p in rep.sheets)}")
    click.echo("wall time: " + ", ".join(f"{k} {v:.0f} s" for k, v in rep.timings.items()))


@cli.command()
@click.argument("collection", type=click.Path(path_type=Path))
@click.option(
    "--queries",
    "folder",
    required=True,
    type=click.Path(path_type=Path),
    help="Labelled queries: a folder of <label>/<file>.",
)
@click.option("--limit", type=int, help="Use a seeded sample of this many queries.")
@click.option("--seed", default=0, show_default=True, help="Seed for --limit.")
@click.option("--json", "as_json", is_flag=True, help="Print the scores as JSON.")
@common
def evaluate(collection, folder, limit, seed, as_json):
    """Measure P@10, P@100 and mAP@1000 of COLLECTION on labelled queries, codes against
    the raw baseline (relevant = same label)."""
    from query import api

    with api.open(collection) as coll:
        result = coll.evaluate(folder, limit=limit, seed=seed)
        items = len(coll)  # while open: a Milvus index cannot count once closed
    if as_json:
        click.echo(json.dumps({k: v for k, v in result.items() if k != "skipped"}))
    else:
        raw_name = "TF-IDF cosine" if coll.kind == "text" else "raw pixels (L2)"
        click.echo(f"{result['queries']} queries, {items} items, relevant = same label")
        _echo_scores(result, f"{coll.bits}-bit codes", "  asymmetric", raw_name, width=18)
    _report_skipped(result["skipped"])


def _echo_scores(result: dict, codes: str, asymmetric: str, raw: str, width: int = 24) -> None:
    """One line per scored ranking of `evaluate_collection` (the asymmetric one when the
    model has its level table): P@10, P@100 and mAP@1000."""
    for name, label in (("codes", codes), ("asymmetric", asymmetric), ("raw", raw)):
        if name in result:
            m = result[name]
            click.echo(f"  {label:{width}} P@10 {m['p@10']:.3f}  P@100 {m['p@100']:.3f}"
                       f"  mAP@1000 {m['map@1000']:.3f}")  # fmt: skip


@cli.command()
@click.argument("name", type=click.Choice(["fashion-mnist", "cifar10", "20news"]))
@common
def data(name):
    """Prepare a standard data set as folders (in the cache) and print where they are."""
    from retrieval import datasets

    if name == "fashion-mnist":
        folders = [datasets.fashion_mnist_folder("train"), datasets.fashion_mnist_folder("test")]
    elif name == "cifar10":
        root = datasets.cifar10_folder()
        folders = [root / "train", root / "test"]
    else:
        root = datasets.newsgroups_split()
        folders = [root / "db", root / "queries"]
    click.echo(f"collection: {folders[0]}")
    click.echo(f"queries:    {folders[1]}")


def _parsed(name: str):
    """A click callback running `query.bench.<name>`; its SemhashError is a usage error."""

    def callback(ctx, param, value):
        from query import bench

        try:
            return getattr(bench, name)(value)
        except SemhashError as exc:
            raise click.BadParameter(str(exc)) from None

    return callback


# fmt: off
@cli.command()
@click.option("--dataset",
              help="fashion-mnist, cifar10, 20news, or a folder of images in class folders "
                   "(train/ and test/ splits, else a seeded holdout of --queries items).")
@click.option("--scale", is_flag=True,
              help="Run the scale benchmark instead (`bench-scale` with its defaults, "
                   "into --out).")
@click.option("--task", type=click.Choice(["retrieval", "indexing", "dedup", "outliers"]),
              default="retrieval", show_default=True,
              help="indexing: photos/s and peak memory indexing generated large photos "
                   "(into --out, default report/indexing); dedup or outliers: that job's "
                   "benchmark (`bench-jobs`).")
@click.option("--photos", default=300, show_default=True,
              help="indexing: 6 MP JPEGs in the main set (the other sets take a share).")
@click.option("--baseline-code", type=click.Path(path_type=Path, exists=True, file_okay=False),
              help="indexing: also index every set with the code in this checkout (before).")
@click.option("--bits", default="16,32,64,128", show_default=True, callback=_parsed("parse_bits"),
              help="Code lengths, comma-separated.")
@click.option("--queries", default=1000, show_default=True, help="Seeded sample of queries.")
@click.option("--seed", default=0, show_default=True, help="Seed for queries and training.")
@click.option("--db-size", default=0, show_default=True,
              help="Keep a seeded sample of this many database items (0: all of them).")
@click.option("--vocab", default=10_000, show_default=True,
              help="Text: vocabulary size, for the codes and the TF-IDF baseline alike.")
@click.option("--vocab-by", type=click.Choice(["count", "df"]), default="count",
              show_default=True,
              help="Text: rank words by document frequency or total count.")
@click.option("--query-text", type=click.Choice(["post", "subject"]), default="post",
              show_default=True, help="20news: query with the whole post, or with its "
              "Subject: line alone (typed-query protocol).")
@click.option("--methods",
              default="ae:conv-dae,ae-asym:conv-dae,ae-rerank:conv-dae,ae-real:conv-dae,raw,lsh,pca,itq",
              show_default=True, callback=_parsed("parse_methods"),
              help="Comma-separated: ae:FAMILY (binary codes), ae-rerank:FAMILY (a Hamming "
                   "shortlist re-ranked by the real code), ae-asym:FAMILY (re-ranked by the "
                   "asymmetric distance of the unquantised query to the stored codes), "
                   "ae-real:FAMILY (the code before "
                   "thresholding), ae-tfidf:FAMILY (text: the shortlist re-ranked by TF-IDF), "
                   "raw, lsh, pca, itq; FAMILY is a model type or all.")
@click.option("--shortlist", default=1000, show_default=True, type=click.IntRange(min=1),
              help="ae-rerank, ae-asym, ae-tfidf: Hamming candidates re-ranked.")
@click.option("--out", default="report", show_default=True, type=click.Path(path_type=Path),
              help="Folder for report.json, report.md and the plots.")
@click.option("--epochs", default=None, type=click.IntRange(min=1),
              help="Epochs (default: a step budget sized to the collection).")
@QUALITY_OPTION
@click.option("--device", default="auto", show_default=True, help="auto, cpu or cuda.")
@click.option("--top-n", default=0, show_default=True,
              help="Ranked-list length for the curves (0 = the whole database, exact).")
@common
# fmt: on
@click.pass_context
def bench(ctx, scale, task, photos, baseline_code, **options):
    """Compare autoencoder codes with raw data, LSH, PCA and ITQ on a labelled data set."""
    from query.bench import BenchOptions, run_bench
    from query.report import format_table

    if task == "indexing":
        _bench_indexing(options["out"], photos, baseline_code, options["seed"])
        return
    if task != "retrieval":
        from semhash.cli_jobs import bench_jobs

        keep = {"seed": options["seed"], "epochs": options["epochs"]}
        if options["out"] != Path("report"):
            keep["out"] = options["out"]
        ctx.invoke(bench_jobs, task=task, dataset=options["dataset"], **keep)
        return
    if scale:
        out = options["out"] if options["out"] != Path("report") else Path("scale-bench")
        ctx.invoke(bench_scale, out=out)
        return
    if not options["dataset"]:
        raise SemhashError("bench needs --dataset (or --scale for the scale benchmark).")
    report = run_bench(BenchOptions(**options))
    p = report.protocol
    click.echo(f"{p['dataset']}: {p['database_items']:,} database items, {p['queries']:,} "
               f"queries (seed {p['seed']}), ranked lists of {p['top_n']:,} items")
    click.echo(format_table(report.rows))
    click.echo(f"report: {report.files[0].parent}/ (report.json, report.md, "
               f"{len(report.files) - 2} plots)")
    click.echo("wall time: " + ", ".join(f"{k} {v:.0f} s" for k, v in report.timings.items()))


def _bench_indexing(out, photos, baseline_code, seed) -> None:
    from query.bench_indexing import IndexingBenchOptions, as_table, run_indexing_bench

    out = Path("report/indexing") if out == Path("report") else out
    opts = IndexingBenchOptions(out=out, photos=photos, seed=seed, baseline_code=baseline_code)
    click.echo(as_table(run_indexing_bench(opts)))
    click.echo(f"report: {out / 'indexing-report.json'}, {out / 'indexing-table.md'}")


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
from semhash import cli_jobs, cli_milvus, cli_serve  # noqa: E402,F401
