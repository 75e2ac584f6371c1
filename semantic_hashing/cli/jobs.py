"""The other jobs of a collection's autoencoder: `dedup`, `outliers`, `reconstruct`.

Each command parses its options and calls one function of `query.jobs`."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import click

from semantic_hashing.cli.options import ITEM_ID, Registered, common, report_skipped
from semantic_hashing.retrieval.errors import SemhashError
from semantic_hashing.retrieval.fsutil import printable


def _lookups():
    from semantic_hashing.query.candidates import LOOKUPS

    return LOOKUPS


log = logging.getLogger("semhash")


# fmt: off
@click.command()
@click.argument("collection", type=click.Path(path_type=Path))
@click.option("--radius", type=int,
              help="Hamming radius of candidates [default: 12 per 64 bits of code].")
@click.option("--verify", type=click.Choice(["raw", "none"]), default="raw", show_default=True,
              help="raw: candidates must look alike in the stored inputs; none: trust codes.")
@click.option("--threshold", type=float,
              help="Similarity (-1..1) a candidate needs under --verify raw [default: 0.94 for "
                   "images, 0.9 for text].")
@click.option("--max-candidates", default=20, show_default=True,
              help="Nearest candidates checked per item.")
@click.option("--strategy", type=Registered(_lookups),
              help="Candidate lookup: flat (exact), ivf (approximate) or hash (exact tables); "
                   "default: flat up to 100,000 items, ivf above.")
@click.option("--against", type=click.Path(path_type=Path),
              help="Find the items of this other collection that are already in COLLECTION.")
@click.option("--query", "query", type=click.Path(path_type=Path),
              help="Find the files of this folder that are already in COLLECTION.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per group per line.")
@click.option("--csv", "csv_path", type=click.Path(path_type=Path),
              help="Also write the groups to this CSV file.")
@click.option("--sheet", type=click.Path(path_type=Path), help="Draw the groups into a PNG.")
@click.option("--move-to", type=click.Path(path_type=Path),
              help="Move every duplicate (never the kept item) below this folder and remove "
                   "it from the collection.")
@click.option("--link-to", type=click.Path(path_type=Path),
              help="Put a symbolic link to every duplicate below this folder.")
@click.option("--keep", type=click.Choice(["first", "largest", "oldest"]), default="first",
              show_default=True, help="Which item of a group is kept: lowest id, most "
                                      "pixels/bytes, or earliest modified.")
@click.option("--dry-run", is_flag=True, help="Print what --move-to/--link-to would do; "
                                               "change nothing.")
@click.option("--selection", type=click.Path(path_type=Path),
              help="Only the groups reviewed on the web page and saved there as JSON (its "
                   "'copy the command' button): nothing else is listed, moved or linked.")
@click.option("--paths", "as_paths", is_flag=True,
              help="Print only the duplicates' paths (never the kept items'), one a line.")
@click.option("--device", default="cpu", show_default=True, help="auto, cpu or cuda.")
@common
# fmt: on
def dedup(collection, radius, verify, threshold, max_candidates, strategy, against, query,
          as_json, csv_path, sheet, move_to, link_to, keep, dry_run, selection, as_paths,
          device):  # fmt: skip
    """Group exact and near-duplicate items of COLLECTION (or of --against / --query
    items already in it); optionally move or link the duplicates away."""
    from semantic_hashing.query import dedup_render
    from semantic_hashing.query.dedup import DedupOptions
    from semantic_hashing.query.jobs import DedupJob, dedup_collection

    if move_to and link_to:
        raise SemhashError("give --move-to or --link-to, not both.")
    if as_paths and as_json:
        raise SemhashError("give --json or --paths, not both.")
    finding = {"--radius": radius is not None, "--verify": verify != "raw",
               "--threshold": threshold is not None, "--max-candidates": max_candidates != 20,
               "--strategy": strategy is not None, "--against": against is not None,
               "--query": query is not None, "--keep": keep != "first"}  # fmt: skip
    if selection is not None and any(finding.values()):
        given = next(name for name, on in finding.items() if on)
        raise SemhashError(f"--selection holds the reviewed groups; {given} applies to finding "
                           "them, so leave it out.")  # fmt: skip
    opts = DedupOptions(radius=radius, verify=verify, threshold=threshold, keep=keep,
                        max_candidates=max_candidates, strategy=strategy)  # fmt: skip
    job = DedupJob(opts, against, query, csv_path, sheet,
                   "move" if move_to else "link" if link_to else None, move_to or link_to,
                   dry_run, device, selection)  # fmt: skip
    result = dedup_collection(collection, job)
    groups = result.groups
    if as_paths:
        if groups:
            click.echo("\n".join(printable(d.path) for g in groups for d in g.duplicates))
    elif groups:
        click.echo(dedup_render.as_json_lines(groups) if as_json else dedup_render.as_lines(groups))
    if sheet and not groups:
        click.echo(f"no duplicate groups to draw: {sheet} not written.", err=True)
    s = result.stats
    if selection is not None:
        log.info("%d groups, %d duplicates as selected in %s", len(groups),
                 s.get("duplicates", 0), selection)  # fmt: skip
    else:
        log.info("%d groups, %d duplicates among %d items (%d candidate pairs, %.1f s)",
                 len(groups), s.get("duplicates", 0), s.get("items", 0),
                 s.get("candidate_pairs", 0), s.get("total_s", 0.0))  # fmt: skip
    for path in result.files:
        log.info("wrote %s", path)
    if result.act is not None:
        for line in result.act.lines():
            click.echo(line, err=as_json or as_paths)
        if result.act.removed:
            click.echo(f"removed {result.act.removed} moved items from {printable(collection)}",
                       err=as_json)
    report_skipped(result.skipped)


@click.command()
@click.argument("collection", type=click.Path(path_type=Path))
@click.option("--top", default=20, show_default=True, help="How many outliers to list.")
@click.option("--metric", type=click.Choice(["loss", "mse"]), default="loss", show_default=True,
              help="Reconstruction error: the model's own loss, or pixel MSE (images).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per outlier per line.")
@click.option("--sheet", type=click.Path(path_type=Path), help="Draw the outliers into a PNG.")
@click.option("--selection", type=click.Path(path_type=Path),
              help="Only the outliers reviewed on the web page and saved there as JSON.")
@click.option("--paths", "as_paths", is_flag=True,
              help="Print only the outliers' paths, one a line (for piping).")
@click.option("--device", default="cpu", show_default=True, help="auto, cpu or cuda.")
@common
def outliers(collection, top, metric, as_json, sheet, selection, as_paths, device):
    """List the items of COLLECTION its own autoencoder reconstructs worst (unlike the rest)."""

    from semantic_hashing.query.jobs import outliers_collection
    from semantic_hashing.query.jobs_render import outlier_table

    if as_paths and as_json:
        raise SemhashError("give --json or --paths, not both.")
    if selection is not None and (top != 20 or metric != "loss"):
        raise SemhashError("--selection holds the reviewed outliers; leave out --top and "
                           "--metric.")  # fmt: skip
    found = outliers_collection(collection, top, metric, sheet, device, selection)
    if as_paths:
        click.echo("\n".join(printable(o.path) for o in found))
    elif as_json:
        click.echo("\n".join(json.dumps(o.to_dict(), ensure_ascii=False) for o in found))
    else:
        click.echo(outlier_table(found))
    if sheet:
        log.info("outlier sheet written to %s", sheet)


@click.command()
@click.argument("collection", type=click.Path(path_type=Path))
@click.option("--id", "item_ids", type=ITEM_ID, multiple=True, help="A stored item (repeatable).")
@click.option("--query", "query", type=click.Path(path_type=Path),
              help="A file, or a folder of files, read as the collection's items.")  # fmt: skip
@click.option("--sheet", type=click.Path(path_type=Path),
              help="Draw input, corrupted copy and reconstructions side by side.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per item per line.")
@click.option("--seed", default=0, show_default=True, help="Seed of the corruption.")
@click.option("--device", default="cpu", show_default=True, help="auto, cpu or cuda.")
@common
def reconstruct(collection, item_ids, query, sheet, as_json, seed, device):
    """Show what the collection's autoencoder makes of an item: the input, the model's own
    corruption of it and the reconstructions (text: top words against reconstructed ones)."""

    from semantic_hashing.query.jobs import reconstruct_collection
    from semantic_hashing.query.jobs_render import words_table

    recs, skipped = reconstruct_collection(collection, list(item_ids), query, sheet, seed,
                                           device)  # fmt: skip
    if as_json:
        click.echo("\n".join(json.dumps(r.to_dict(), ensure_ascii=False) for r in recs))
    elif recs and recs[0].words:  # what a kind without pictures reconstructs: words
        click.echo(words_table(recs))
    else:
        for r in recs:
            click.echo(f"{printable(r.name)}  id {r.id}  reconstruction error {r.score:.3f}")
    if sheet:
        log.info("reconstruction sheet written to %s", sheet)
    report_skipped(skipped)
