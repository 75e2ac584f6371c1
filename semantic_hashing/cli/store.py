"""Commands that build and keep a collection: `train`, `index`, `remove`, `check`, `info`."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import click

from semantic_hashing.cli.options import (
    ITEM_ID,
    backend_options,
    common,
    print_index_report,
    report_skipped,
    settings,
    training_options,
)
from semantic_hashing.retrieval.errors import SemhashError
from semantic_hashing.retrieval.fsutil import printable

log = logging.getLogger("semhash")


@click.command()
@click.argument("folder", type=click.Path(path_type=Path))
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Model file to write.")
@training_options
@common
def train(folder, out, **kwargs):
    """Train a hashing autoencoder on the images or documents in FOLDER, save it to --out.

    FOLDER may be a features collection: the model then trains on the backbone features
    it keeps, and no file is read again."""
    from semantic_hashing.indexer import api

    info = api.train(folder, out, **settings(**kwargs))
    click.echo(f"trained on {info['items']} items in {info['seconds']:.1f} s -> {out} "
               f"(fingerprint {info['fingerprint']})")  # fmt: skip
    report_skipped(info["skipped"])


@click.command()
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
    from semantic_hashing.indexer import api

    ctx = click.get_current_context()
    given = [k for k in api.TRAINING_SETTINGS if k in kwargs and
             ctx.get_parameter_source(k) == click.core.ParameterSource.COMMANDLINE]  # fmt: skip
    report = api.index(folder, collection, model=model_path, db_url=db_url, prune=prune,
                       rebuild=rebuild, chunk_size=chunk_size, backend=backend, uri=uri,
                       given=given, **settings(**kwargs))  # fmt: skip
    print_index_report(report)


@click.command()
@click.argument("collection", type=click.Path(path_type=Path))
@click.option(
    "--path",
    "path",
    type=click.Path(path_type=Path),
    help="Remove everything indexed at or below this path.",
)
@click.option("--id", "item_ids", type=ITEM_ID, multiple=True, help="Remove this item.")
@common
def remove(collection, path, item_ids):
    """Remove items from COLLECTION by path or id (search never returns them again)."""
    from semantic_hashing.indexer import api

    if path is None and not item_ids:
        raise SemhashError("give --path or --id.")
    n = api.remove(collection, item_ids, path)
    click.echo(f"removed {n} items from {printable(collection)}")


@click.command()
@click.argument("collection", type=click.Path(path_type=Path))
@click.option("--repair", is_flag=True, help="Fix what is found (takes the writer's lock).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@common
def check(collection, repair, as_json):
    """Verify that index, metadata and stored inputs of COLLECTION agree."""
    from semantic_hashing.indexer import api

    result = api.check(collection, repair)
    if as_json:
        click.echo(json.dumps(result))
        return
    click.echo(f"{printable(collection)}: {result['items']} items")
    for name, n in result["problems"].items():
        click.echo(f"  {name}: {n}")
    if repair:
        done = {name: n for name, n in result["repaired"].items() if n}
        click.echo(f"repaired: {done or 'nothing to repair'}")
    after = dict(result.get("problems_after", result["problems"]))
    missing = after.pop("listed items whose files are missing", 0)
    if any(after.values()):
        raise SemhashError("the collection has problems; run `semhash check --repair`.")
    if missing:
        raise SemhashError(f"{missing} listed items' files are missing; `semhash index --prune "
                           "FOLDER` or `semhash remove` forgets them.")  # fmt: skip
    click.echo("ok")


@click.command()
@click.argument("collection", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the sidecar as JSON.")
@common
def info(collection, as_json):
    """Describe a collection: kind, code length, model, counts, labels."""
    from semantic_hashing.query import api

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
