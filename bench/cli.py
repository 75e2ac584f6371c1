"""The benchmark commands: `bench`, `bench-jobs`, `bench-scale`, `bench-milvus`, `bench-serve`.

They join the `semhash` command line through the `semantic_hashing.commands` entry point
(pyproject.toml): the product's command line never imports this wing.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from semantic_hashing.cli.options import QUALITY_OPTION, common
from semantic_hashing.retrieval.backbones import BACKBONES
from semantic_hashing.retrieval.errors import SemhashError


def _parsed(name: str):
    """A click callback running `query.bench.<name>`; its SemhashError is a usage error."""

    def callback(ctx, param, value):
        from semantic_hashing.bench import options as bench

        try:
            return getattr(bench, name)(value)
        except SemhashError as exc:
            raise click.BadParameter(str(exc)) from None

    return callback


# fmt: off
@click.command()
@click.option("--dataset",
              help="fashion-mnist, cifar10, 20news, or a folder of images in class folders "
                   "(train/ and test/ splits, else a seeded holdout of --queries items).")
@click.option("--scale", is_flag=True,
              help="Run the scale benchmark instead (`bench-scale` with its defaults, "
                   "into --out).")
@click.option("--task", type=click.Choice(["retrieval", "indexing", "dedup", "outliers",
                                           "million"]),
              default="retrieval", show_default=True,
              help="indexing: photos/s and peak memory indexing generated large photos "
                   "(into --out, default report/indexing); dedup or outliers: that job's "
                   "benchmark (`bench-jobs`); million: every job on a collection of --items "
                   "files (into --out, default report/million).")
@click.option("--items", default="1M", show_default=True,
              help="million: files in the collection, e.g. 20000, 100k or 1M.")
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
@click.option("--features", default="pixels", show_default=True,
              type=click.Choice(["pixels", *BACKBONES]),
              help="Also run the images through this frozen backbone (features cached on "
                   "disk): its codes, re-ranked codes and float features beside the pixel "
                   "rows [methods: ae:feature-dae,ae-asym:feature-dae,features,ae:conv-dae,"
                   "raw]; indexing: index with it.")
@click.option("--input-size", default=0, show_default=True,
              help="The side the backbone sees (0: 128).")
@common
# fmt: on
@click.pass_context
def bench(ctx, scale, task, photos, baseline_code, items, **options):
    """Compare autoencoder codes with raw data, LSH, PCA and ITQ on a labelled data set."""
    from semantic_hashing.bench.options import FEATURE_METHODS, BenchOptions, parse_methods
    from semantic_hashing.bench.report import format_table
    from semantic_hashing.bench.retrieval import run_bench

    if task == "million":
        _bench_million(options["out"], parse_count(items), options["seed"], options["epochs"])
        return
    if task == "indexing":
        _bench_indexing(options["out"], photos, baseline_code, options["seed"],
                        options["features"], options["input_size"])  # fmt: skip
        return
    explicit = ctx.get_parameter_source("methods") != click.core.ParameterSource.DEFAULT
    if options["features"] != "pixels" and not explicit:
        options["methods"] = parse_methods(FEATURE_METHODS)
    if task != "retrieval":

        keep = {"seed": options["seed"], "epochs": options["epochs"],
                "features": options["features"]}  # fmt: skip
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


def _bench_indexing(out, photos, baseline_code, seed, features="pixels", input_size=0) -> None:
    from semantic_hashing.bench.indexing import IndexingBenchOptions, as_table, run_indexing_bench

    out = Path("report/indexing") if out == Path("report") else out
    opts = IndexingBenchOptions(out=out, photos=photos, seed=seed, baseline_code=baseline_code,
                                features=features, input_size=input_size)  # fmt: skip
    click.echo(as_table(run_indexing_bench(opts)))
    click.echo(f"report: {out / 'indexing-report.json'}, {out / 'indexing-table.md'}")


def _bench_million(out, items, seed, epochs) -> None:
    from semantic_hashing.bench.million import MillionOptions, as_table, run_million

    out = Path("report/million") if out == Path("report") else out
    report = run_million(MillionOptions(out=out, items=items, seed=seed, epochs=epochs))
    click.echo(as_table(report))
    click.echo(f"report: {out / 'million.json'} ({report['wall_s']:.0f} s)")


def parse_count(text: str) -> int:
    scale = {"k": 1_000, "m": 1_000_000}.get(text[-1:].lower(), 1)
    try:
        return int(float(text[:-1] if scale > 1 else text) * scale)
    except ValueError:
        raise SemhashError(f"{text!r} is not a size such as 60000, 60k or 1M.") from None


@click.command("bench-scale")
@click.option("--out", default="scale-bench", show_default=True, type=click.Path(path_type=Path),
              help="Folder for the model, scale-report.json and scale-table.txt.")  # fmt: skip
@click.option("--sizes", default="60k,1M,10M", show_default=True,
              help="Comma-separated collection sizes.")  # fmt: skip
@click.option("--strategies", help="Comma-separated strategies to measure [default: every "
              "registered one: flat,hash,ivf,hnsw].")  # fmt: skip
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
@click.option("-k", "--k", "k", default=100, show_default=True, type=click.IntRange(1, 1000),
              help="Neighbours per query: latency and recall are of the top k.")
@common
def bench_scale(out, sizes, strategies, model, collection, epochs, queries, raw_queries,
                raw_max_n, hnsw_max_n, encode_budget, k):  # fmt: skip
    """Latency, recall@100, memory and build time of each strategy from 60k to 10M codes."""
    from semantic_hashing.bench.scale import ScaleOptions, as_table, run_scale
    from semantic_hashing.indexer.strategies import STRATEGIES

    if collection is not None:
        model = Path(collection) / "model.pt"
    names = tuple(x.strip() for x in (strategies or ",".join(STRATEGIES)).split(",") if x.strip())
    unknown = set(names) - set(STRATEGIES)
    if unknown:
        raise SemhashError(f"unknown strategy {sorted(unknown)[0]!r}.")
    opts = ScaleOptions(
        out=out, sizes=tuple(parse_count(x) for x in sizes.split(",")), strategies=names,
        model=model, epochs=epochs, n_queries=queries, raw_queries=raw_queries,
        raw_max_n=parse_count(raw_max_n), hnsw_max_n=parse_count(hnsw_max_n),
        encode_budget_s=encode_budget, k=k,
    )  # fmt: skip
    report = run_scale(opts)
    click.echo(as_table(report))
    click.echo(f"report: {out / 'scale-report.json'} ({report['wall_s']:.0f} s)")


# fmt: off
@click.command("bench-jobs")
@click.option("--task", type=click.Choice(["dedup", "outliers"]), required=True,
              help="Which job to measure.")
@click.option("--dataset", help="dedup: cifar10 (near-duplicate set, against imagededup) or "
                                "20news (shared Message-ID) [default: cifar10].")
@click.option("--out", type=click.Path(path_type=Path), help="Report folder "
              "[default: report/dedup-DATASET or report/outliers].")
@click.option("--seed", default=0, show_default=True, help="Seed of the data and training.")
@click.option("--epochs", type=click.IntRange(min=1),
              help="Training epochs (default: the model's).")
@click.option("--originals", default=1000, show_default=True, type=click.IntRange(1, 10_000),
              help="dedup cifar10: originals given 1-3 copies each.")
@click.option("--calibrate", is_flag=True,
              help="dedup cifar10: also sweep radius and threshold on a set made from "
                   "CIFAR-10 training images (how the defaults were chosen).")
@click.option("--no-imagededup", is_flag=True, help="dedup cifar10: semhash only.")
@click.option("--split", type=click.Choice(["test", "train"]), default="test",
              show_default=True, help="outliers: the Fashion-MNIST split the 1% goes into.")
@click.option("--classes", default="0-9", show_default=True,
              help="outliers: one-class protocol classes, e.g. 0-9 or 0,3,7 ('' = none).")
@click.option("--budget", default=3600.0, show_default=True, type=click.FloatRange(min=0),
              help="outliers: seconds after which no new one-class training starts.")
@click.option("--device", default="cpu", show_default=True, help="auto, cpu or cuda.")
@click.option("--features", default="pixels", show_default=True,
              type=click.Choice(["pixels", *BACKBONES]),
              help="dedup cifar10: index the photos by pixels or through this backbone.")
@common
# fmt: on
def bench_jobs(task, dataset, out, seed, epochs, originals, calibrate, no_imagededup, split,
               classes, budget, device, features):  # fmt: skip
    """Benchmarks of dedup (P/R/F1 and time against imagededup's hashes) and outliers
    (AUROC with 1% foreign images, one-class protocol)."""
    if task == "dedup":
        from semantic_hashing.bench.dedup import DedupBenchOptions, as_table, run_dedup_bench

        dataset = dataset or "cifar10"
        opts = DedupBenchOptions(dataset, out or Path(f"report/dedup-{dataset}"), seed,
                                 originals, epochs, calibrate, not no_imagededup,
                                 features)  # fmt: skip
        report = run_dedup_bench(opts)
    else:
        from semantic_hashing.bench.outliers import OutlierBenchOptions, as_table, run_outlier_bench

        opts = OutlierBenchOptions(out or Path("report/outliers"), seed, split, epochs=epochs,
                                   classes=_classes(classes), budget_s=budget,
                                   device=device)  # fmt: skip
        report = run_outlier_bench(opts)
    click.echo(json.dumps(report.get("protocol", {})))
    click.echo(as_table(report))
    click.echo(f"report: {opts.out}")


def _classes(text: str) -> tuple[int, ...]:
    out: list[int] = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        lo, _, hi = part.partition("-")
        try:
            out += range(int(lo), int(hi or lo) + 1)
        except ValueError:
            raise SemhashError(f"--classes: {part!r} is not a class number or range.") from None
    if any(not 0 <= c <= 9 for c in out):
        raise SemhashError("--classes are Fashion-MNIST classes 0-9.")
    return tuple(dict.fromkeys(out))


@click.command("bench-milvus")
@click.option("--out", default="milvus-bench", show_default=True, type=click.Path(path_type=Path),
              help="Folder for the model and milvus-report.json.")  # fmt: skip
@click.option("--sizes", default="60k,1M", show_default=True,
              help="Comma-separated numbers of codes.")  # fmt: skip
@click.option("--model", type=click.Path(path_type=Path, exists=True),
              help="A trained 64-bit model (default: train one on Fashion-MNIST).")  # fmt: skip
@click.option("--epochs", default=2, show_default=True, help="Epochs when training here.")
@click.option("--queries", default=200, show_default=True, help="Seeded test queries.")
@click.option("--uri", help="A running Milvus server [default: start the embedded one].")
@click.option("--collection", type=click.Path(path_type=Path, exists=True),
              help="Take the codes of this collection (queries: seeded items of it).")
@common
def bench_milvus(out, sizes, model, epochs, queries, uri, collection):
    """Latency and recall@100 of a Milvus server (BIN_FLAT, Hamming) next to FAISS flat on
    the scale benchmark's Fashion-MNIST codes (or a collection's), one query at a time."""
    from semantic_hashing.bench.milvus import MilvusBenchOptions, as_table, run_milvus_bench

    opts = MilvusBenchOptions(out=out, sizes=tuple(parse_count(x) for x in sizes.split(",")),
                              model=model, epochs=epochs, n_queries=queries, uri=uri,
                              collection=collection)  # fmt: skip
    report = run_milvus_bench(opts)
    click.echo(as_table(report))
    click.echo(f"report: {out / 'milvus-report.json'} ({report['wall_s']:.0f} s)")


@click.command("bench-serve")
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
    from semantic_hashing.bench.serve import ServeBenchOptions, as_table, run_serve_bench

    counts = {"--requests": n, "--clients": clients, "--cli-runs": cli_runs,
              "--concurrent-requests": concurrent_requests}  # fmt: skip
    for name, value in counts.items():
        if value < 1:
            raise click.BadParameter(f"{name} must be at least 1.")
    opts = ServeBenchOptions(Path(collection), n, clients, concurrent_requests, cli_runs, out=out)
    report = run_serve_bench(opts)
    click.echo(as_table(report))
    click.echo(f"report: {out / 'serve-bench.json'}")


@click.command("bench-flood")
@click.argument("collection", type=click.Path(path_type=Path))
@click.option("--requests", "n", default=2000, show_default=True, help="Requests in all.")
@click.option("--disconnects", default=300, show_default=True,
              help="Of them, sent half-way and then closed.")  # fmt: skip
@click.option("--clients", default=8, show_default=True, help="Concurrent clients.")
@click.option("--log", "log_file", default="serve-flood.log", show_default=True,
              type=click.Path(path_type=Path), help="The server's log.")  # fmt: skip
@common
def bench_flood(collection, n, disconnects, clients, log_file):
    """Flood `semhash serve` on COLLECTION with uploads, some disconnected half-way; count
    the tracebacks in its log and its memory (VmRSS) before and after."""
    from semantic_hashing.bench.flood import flood

    if n < 1 or clients < 1:
        raise click.BadParameter("--requests and --clients must be at least 1.")
    report = flood(Path(collection), n, disconnects, clients, log_file)
    click.echo(json.dumps(report.to_dict()))


COMMANDS = [bench, bench_jobs, bench_scale, bench_milvus, bench_serve, bench_flood]
