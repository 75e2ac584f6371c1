"""What the commands share: the error-to-sentence group, logging setup, option sets and
the lines they print. Every command module imports from here; nothing here imports them."""

from __future__ import annotations

import errno
import functools
import logging
import os
import sys

import click

from semantic_hashing.retrieval.errors import SemhashError
from semantic_hashing.retrieval.fsutil import printable
from semantic_hashing.retrieval.kinds import KINDS, get_kind
from semantic_hashing.retrieval.kinds.choice import feature_choices
from semantic_hashing.retrieval.params import DEFAULT_BITS, MAX_ID
from semantic_hashing.retrieval.presets import PRESETS

log = logging.getLogger("semhash")


FULL_DISK = (
    "the disk is full (no space left on device): free some space, run `semhash check "
    "--repair` on the collection (it removes what was left half-written), then the command "
    "again."
)


class SemhashGroup(click.Group):
    """Turns user mistakes into one sentence on stderr and exit code 1."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except SemhashError as exc:
            raise click.ClickException(printable(exc)) from None
        except BrokenPipeError:  # `semhash ... | head`: the reader has seen enough
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            ctx.exit(0)
        except OSError as exc:  # a read-only folder, a full disk: one sentence too
            if exc.errno == errno.ENOSPC:
                raise click.ClickException(FULL_DISK) from None
            where = f" {printable(exc.filename)}" if exc.filename else ""
            raise click.ClickException(
                f"cannot write or read{where}: {exc.strerror or exc}."
            ) from None
        except KeyboardInterrupt:
            raise click.Abort() from None


def _setup(quiet: bool, verbose: bool) -> None:
    from semantic_hashing.retrieval.progress import set_progress

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


class ItemId(click.IntRange):
    """An item id on the command line: an integer 0..2**63-1, else one sentence."""

    name = "item id"


ITEM_ID = ItemId(0, MAX_ID)


class Registered(click.Choice):
    """A choice among the names of a registry (code stores, search strategies), read when
    first needed: the registries import FAISS, and the command line starts without it."""

    def __init__(self, registry):
        self._registry = registry  # a function returning the registry
        super().__init__(())

    @property
    def choices(self) -> tuple:
        return tuple(self._registry())

    @choices.setter
    def choices(self, value) -> None:
        pass


def _code_stores():
    from semantic_hashing.indexer.backends import CODE_STORES

    return CODE_STORES


def backend_options(fn):
    """--backend and --uri, shared by `index` and `search`."""
    fn = click.option("--uri", help="Milvus server URI (http://host:19530) or a Milvus Lite "
                      "file [default: milvus.db in the collection].")(fn)  # fmt: skip
    return click.option("--backend", type=Registered(_code_stores),
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
        click.option("--bits", default=DEFAULT_BITS, show_default=True,
                     help="Code length (multiple of 8)."),
        click.option("--epochs", type=int,
                     help="Epochs (default: a step budget sized to the collection)."),
        click.option("--kind", type=click.Choice(list(KINDS)),
                     help="Collection kind (default: inferred from the files)."),
        click.option("--features", type=click.Choice(feature_choices()),
                     help="Image folders: codes of the pixels, or of a pretrained backbone's "
                     "features (sees what is in a photo) [default: $SEMHASH_FEATURES, else "
                     "auto: the backbone for colour photos when the 'features' extra is "
                     "installed, pixels for gray images]."),
        click.option("--image-size", default=0, help="Square input size (28 gray, 32 color; "
                     "with a backbone, the side it sees: 128)."),
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


def settings(bits, epochs, kind, image_size, vocab, model_type, seed, device,
              include_hidden, exclude, include, follow_links, workers,
              vocab_by="count", quality="default", features=None) -> dict:  # fmt: skip
    """The training and listing options as keyword settings of `semhash.index` /
    `semhash.train`."""
    return dict(bits=bits, epochs=epochs, kind=kind, image_size=image_size, vocab=vocab,
                model_type=model_type, seed=seed, device=device, include_hidden=include_hidden,
                exclude=exclude, include=include, follow_links=follow_links,
                workers=workers, vocab_by=vocab_by, quality=quality,
                features=features)  # fmt: skip


def _strategies():
    from semantic_hashing.indexer.strategies import STRATEGIES

    return STRATEGIES


def strategy_options(fn):
    """--strategy and its knobs, shared by `search` and `bench-scale`."""
    options = [
        click.option(
            "--strategy",
            type=Registered(_strategies),
            help="Index: exact flat scan, hash lookup + re-rank, ivf or hnsw "
            "[default: flat below 2M items, ivf above].",
        ),  # fmt: skip
        click.option("--nhash", default=0, help="hash: tables (0: code bits // hash bits)."),
        click.option(
            "--hash-bits", default=0, help="hash: address bits per table (0: about log2 N)."
        ),
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


def strategy_params(nhash, hash_bits, hash_radius, nlist, nprobe, hnsw_m, ef_search):
    from semantic_hashing.indexer.strategies import StrategyParams

    return StrategyParams(nhash=nhash, hash_bits=hash_bits, nflip=hash_radius, nlist=nlist,
                          nprobe=nprobe, hnsw_m=hnsw_m, ef_search=ef_search)  # fmt: skip


def print_index_report(report) -> None:
    t = report.timings
    click.echo(
        f"{printable(report.collection)}: added {report.added}, changed {report.changed}, "
        f"unchanged {report.unchanged}, removed {report.removed}, "
        f"skipped {len(report.skipped)}; {report.total} items in the collection"
    )
    if report.left_out:
        parts = ", ".join(f"{k} {v}" for k, v in sorted(report.left_out.items()))
        click.echo(f"left out by rule: {parts} (see --include-hidden, --exclude, --include)")
    if "train" in t:
        click.echo(f"training: {t['train']:.1f} s")
    if n := report.added + report.changed:
        things = get_kind(report.kind).noun
        busy = sum(t.get(k, 0.0) for k in ("read", "encode", "write"))
        click.echo(
            f"{n:,} {things} in {busy:.1f} s: {report.files_per_second:,.0f} {things}/s on "
            f"{report.workers} workers (waiting for reads {t.get('read', 0):.1f} s, encoding "
            f"{t.get('encode', 0):.1f} s, writing {t.get('write', 0):.1f} s)"
        )
    report_skipped(report.skipped)


def report_skipped(skipped) -> None:
    for path, reason in skipped[:20]:
        click.echo(f"skipped {printable(path)}: {printable(reason)}", err=True)
    if len(skipped) > 20:
        click.echo(
            f"... and {len(skipped) - 20} more skipped (see the collection's index.log)", err=True
        )


def echo_scores(result: dict, codes: str, asymmetric: str, raw: str, width: int = 24,
                others: dict | None = None) -> None:  # fmt: skip
    """One line per scored ranking of `evaluate_collection` (the asymmetric one when the
    model has its level table; `others`: more baselines, name -> label): P@10, P@100 and
    mAP@1000."""
    named = [("codes", codes), ("asymmetric", asymmetric), ("raw", raw), *(others or {}).items()]
    for name, label in named:
        if name in result:
            m = result[name]
            click.echo(f"  {label:{width}} P@10 {m['p@10']:.3f}  P@100 {m['p@100']:.3f}"
                       f"  mAP@1000 {m['map@1000']:.3f}")  # fmt: skip
