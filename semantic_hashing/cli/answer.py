"""Commands that answer: `search`, `evaluate`, `demo`, and `data` (the standard sets)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import click

from semantic_hashing.cli.options import (
    backend_options,
    common,
    echo_scores,
    print_index_report,
    report_skipped,
    strategy_options,
    strategy_params,
)
from semantic_hashing.retrieval.errors import SemhashError
from semantic_hashing.retrieval.kinds import baseline_names

log = logging.getLogger("semhash")


@click.command()
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
    type=click.Choice(baseline_names()),
    help="Answer with a baseline: raw data (pixels L2, text TF-IDF cosine), or on a "
    "features collection the backbone's float features (cosine).",
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
    from semantic_hashing.query import api, render

    if sum([query_path is not None, query_text is not None, bool(item_ids)]) != 1:
        raise SemhashError("give exactly one of --query, --text or --id.")
    if sheet is not None:
        render.check_sheet(sheet)
    with api.open(collection, device=device, uri=uri) as coll:
        if backend and backend != coll.store.backend:
            raise SemhashError(f"{collection} keeps its codes in {coll.store.backend}, "
                               f"not {backend}.")  # fmt: skip
        if sheet:
            coll.input_kind.check_sheet()
        k = k if k is not None or radius is not None else 10
        how = dict(k=k, radius=radius, baseline=baseline, strategy=strategy,
                   params=strategy_params(**knobs), asymmetric=asymmetric)  # fmt: skip
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
    report_skipped(batch.skipped)


@click.command()
@click.option("--out", default="semhash-demo", show_default=True, type=click.Path(path_type=Path),
              help="Folder for the collection, queries and contact sheets.")  # fmt: skip
@click.option("--epochs", default=None, type=click.IntRange(min=1),
              help="Epochs (default: a step budget sized to the collection).")  # fmt: skip
@click.option("--device", default="auto", show_default=True, help="auto, cpu or cuda.")
@common
def demo(out, epochs, device):
    """Index Fashion-MNIST, search it against the raw-pixel baseline, and measure P@100."""
    from semantic_hashing.indexer.api import index_options
    from semantic_hashing.query import render
    from semantic_hashing.query.demo import run_demo

    rep = run_demo(out, index_options(bits=64, epochs=epochs, kind="image", device=device))
    print_index_report(rep.index)
    for codes, raw in rep.shown:
        click.echo("")
        click.echo(render.as_table([codes], root=str(Path(codes.results[0].path).parents[1])))
        click.echo(render.as_table([raw], root=str(Path(raw.results[0].path).parents[1])))
    q = rep.quality
    click.echo("")
    click.echo("retrieval quality on 1,000 seeded test queries (relevant = same class):")
    echo_scores(q, "64-bit codes (Hamming)", "  asymmetric re-rank", "raw pixels (Euclidean)")
    click.echo(f"contact sheets: {', '.join(str(p) for p in rep.sheets)}")
    click.echo("wall time: " + ", ".join(f"{k} {v:.0f} s" for k, v in rep.timings.items()))


@click.command()
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
    from semantic_hashing.query import api

    with api.open(collection) as coll:
        result = coll.evaluate(folder, limit=limit, seed=seed)
        items = len(coll)  # while open: a Milvus index cannot count once closed
    if as_json:
        click.echo(json.dumps({k: v for k, v in result.items() if k != "skipped"}))
    else:
        kind = coll.input_kind
        others = {name: b[1] for name, b in kind.baselines.items() if name != "raw"}
        click.echo(f"{result['queries']} queries, {items} items, relevant = same label")
        echo_scores(result, f"{coll.bits}-bit codes", "  asymmetric", kind.baseline_label,
                    width=26 if others else 18, others=others)  # fmt: skip
    report_skipped(result["skipped"])


@click.command()
@click.argument("name", type=click.Choice(["fashion-mnist", "cifar10", "20news"]))
@common
def data(name):
    """Prepare a standard data set as folders (in the cache) and print where they are."""
    from semantic_hashing.retrieval import datasets

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
