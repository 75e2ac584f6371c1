"""Commands that answer: `search`, `evaluate`, `demo`, and `data` (the standard sets)."""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path

import click

from semantic_hashing.cli.options import (
    ITEM_ID,
    Registered,
    backend_options,
    common,
    echo_scores,
    print_index_report,
    report_skipped,
    strategy_options,
    strategy_params,
)
from semantic_hashing.query.options import DEFAULT_K
from semantic_hashing.retrieval.errors import SemhashError
from semantic_hashing.retrieval.fsutil import printable
from semantic_hashing.retrieval.params import DEFAULT_BITS

log = logging.getLogger("semhash")


def _baselines():
    from semantic_hashing.query.options import BASELINES

    return BASELINES


@click.command()
@click.argument("collection", type=click.Path(path_type=Path))
@click.option(
    "--query",
    "query_path",
    type=click.Path(path_type=Path),
    help="A file, or a folder of files (one result set each).",
)
@click.option("--text", "query_text", help="Search a text collection with this text.")
@click.option("--id", "item_ids", type=ITEM_ID, multiple=True, help="Search with a stored item.")
@click.option(
    "-k", "k", type=int, help=f"Number of neighbours [default: {DEFAULT_K}; with --radius: all]."
)
@click.option("--radius", type=int, help="All items within this Hamming distance instead.")
@click.option(
    "--baseline",
    type=Registered(_baselines),
    help="Also answer with a baseline, shown beside the codes' results: raw data (pixels L2, "
    "text TF-IDF cosine), or on a features collection the backbone's float features (cosine).",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per query per line.")
@click.option("--paths", "as_paths", is_flag=True,
              help="Print only the results' paths, one a line (for piping).")  # fmt: skip
@click.option("--sheet", type=click.Path(path_type=Path), help="Write a contact sheet PNG.")
@click.option("--device", default="cpu", show_default=True, help="auto, cpu or cuda.")
@click.option("--asymmetric", is_flag=True,
              help="Re-rank the 1,000 nearest codes (or the --radius ball) by the distance of "
                   "the unquantised query to each stored code: finer than Hamming; distances "
                   "shown are then squared Euclidean.")  # fmt: skip
@strategy_options
@backend_options
@common
def search(collection, query_path, query_text, item_ids, k, radius, baseline, as_json,
           as_paths, sheet, device, asymmetric, strategy, backend, uri, **knobs):  # fmt: skip
    """Find the items of COLLECTION most like a query file, folder, text or stored id.

    With --baseline raw, the raw-data baseline's results are shown beside the codes'."""
    from semantic_hashing.query import api, render
    from semantic_hashing.query.options import SearchOptions

    if sum([query_path is not None, query_text is not None, bool(item_ids)]) != 1:
        raise SemhashError("give exactly one of --query, --text or --id.")
    if as_paths and as_json:
        raise SemhashError("give --json or --paths, not both.")
    if as_paths and baseline:
        raise SemhashError("--paths prints one list of paths; leave out --baseline (or use "
                           "--json, which carries both).")  # fmt: skip
    if radius is not None and baseline:
        raise SemhashError("--radius applies to codes only, not to --baseline.")
    if asymmetric and baseline:
        raise SemhashError("--asymmetric re-ranks codes; it does not apply to --baseline.")
    if sheet is not None:
        render.check_sheet(sheet)
    with api.open(collection, device=device, uri=uri) as coll:
        if backend and backend != coll.store.backend:
            raise SemhashError(f"{collection} keeps its codes in {coll.store.backend}, "
                               f"not {backend}.")  # fmt: skip
        if sheet:
            coll.input_kind.check_sheet()
        how = SearchOptions(k=k, radius=radius, strategy=strategy,
                            params=strategy_params(**knobs), asymmetric=asymmetric)  # fmt: skip

        def answer(options):
            if query_text is not None:
                return api.Batch([coll.search(text=query_text, options=options)])
            if item_ids:
                return coll.search_batch(ids=list(item_ids), options=options)
            if query_path.is_dir():
                return coll.search_batch(query_path, options=options)
            return api.Batch([coll.search(query_path, options=options)])

        batch = answer(how)
        raw = answer(dataclasses.replace(how, baseline=baseline)) if baseline else None
    _show(batch.results, raw.results if raw else None, as_json, as_paths, sheet)
    report_skipped(batch.skipped)


def _show(results, raw, as_json: bool, as_paths: bool, sheet) -> None:
    """Print the results (the raw baseline's beside them) and draw the sheet."""
    from semantic_hashing.query import render

    if as_paths:
        click.echo("\n".join(printable(h.path) for r in results for h in r.results))
    elif raw is not None:
        click.echo(render.as_json_lines_beside(results, raw) if as_json
                   else render.beside_table(results, raw))  # fmt: skip
    else:
        click.echo(render.as_json_lines(results) if as_json else render.as_table(results))
    if sheet:
        shown = results if raw is None else [x for p in zip(results, raw, strict=True) for x in p]
        if any(r.results for r in shown):
            render.contact_sheet(shown, sheet)
            log.info("contact sheet written to %s", sheet)
        else:
            click.echo(f"no results to draw: {sheet} not written.", err=True)


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

    rep = run_demo(out, index_options(epochs=epochs, kind="image", device=device))
    print_index_report(rep.index)
    for codes, raw in rep.shown:
        click.echo("")
        click.echo(render.as_table([codes], root=str(Path(codes.results[0].path).parents[1])))
        click.echo(render.as_table([raw], root=str(Path(raw.results[0].path).parents[1])))
    q = rep.quality
    click.echo("")
    click.echo("retrieval quality on 1,000 seeded test queries (relevant = same class):")
    echo_scores(q, f"{DEFAULT_BITS}-bit codes (Hamming)", "  asymmetric re-rank",
                "raw pixels (Euclidean)")  # fmt: skip
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
