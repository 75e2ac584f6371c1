"""`semhash bench`: every method on the same split, one row per (method, bits).

Methods (`--methods`, comma-separated):

    ae:<family>       the autoencoder's binary codes (Hamming), family from MODEL_TYPES
    ae-real:<family>  the same autoencoder's real-valued code before thresholding (Euclidean)
    ae-rerank:<family>  two stages: the `--shortlist` nearest codes by Hamming distance,
                      re-ranked by the Euclidean distance of the real-valued codes
    ae-asym:<family>  the same shortlist re-ranked by the asymmetric distance of the
                      unquantised query to each stored code (`retrieval.asymmetric`): the
                      database keeps only the codes
    ae-tfidf:<family>   text: the `--shortlist` nearest codes re-ranked by TF-IDF cosine
                      (how `semhash search` answers short typed queries)
    raw               the raw data: pixels in [0, 1] (Euclidean), TF-IDF for text (cosine)
    features          with `--features NAME`: the backbone's float features (cosine)
    lsh, pca, itq     classic binary codes fitted on the database features (Hamming); with
                      `--features`, on the backbone's float features

`ae:all`, `ae-real:all`, `ae-rerank:all` and `ae-asym:all` expand to every image family
(the text model, bow-ae, takes conv-dae's place on text data). Autoencoders train on
the database items only, without labels; one model per (family, bits) serves every kind.

With `--features NAME` (image data sets) the images also go through that frozen backbone
(`bench.features`, cached on disk): every family that takes features (feature-dae and the
MLP families) trains on them, conv-dae and `raw` stay on the pixels, and the default
methods become `FEATURE_METHODS`.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from semantic_hashing.bench import report as report_mod
from semantic_hashing.bench.data import BenchData, load_bench_data
from semantic_hashing.bench.hashing import HASHERS
from semantic_hashing.bench.methods import run_methods
from semantic_hashing.retrieval.errors import SemhashError
from semantic_hashing.retrieval.families import FAMILIES, MODEL_TYPES
from semantic_hashing.retrieval.kinds import get_kind
from semantic_hashing.retrieval.progress import timed

log = logging.getLogger(__name__)

DEFAULT_METHODS = "ae:conv-dae,ae-asym:conv-dae,ae-rerank:conv-dae,ae-real:conv-dae,raw,lsh,pca,itq"
FEATURE_METHODS = "ae:feature-dae,ae-asym:feature-dae,features,ae:conv-dae,raw"
AE_KINDS = ("ae", "ae-real", "ae-rerank", "ae-asym", "ae-tfidf")
DEFAULT_BITS = "16,32,64,128"


@dataclass(frozen=True)
class Method:
    kind: str  # one of AE_KINDS, "raw", "features", "lsh", "pca" or "itq"
    family: str = ""

    @property
    def name(self) -> str:
        return f"{self.kind}:{self.family}" if self.family else self.kind


def parse_methods(text: str) -> list[Method]:
    """`ae:conv-dae,ae-real:conv-dae,raw,lsh,pca,itq` -> Methods (order kept, no repeats)."""
    out: list[Method] = []
    for item in (part.strip() for part in text.split(",")):
        kind, _, family = item.partition(":")
        if kind in AE_KINDS:
            families = sorted(FAMILIES) if family == "all" else [family]
            if not family or any(f not in MODEL_TYPES for f in families):
                names = ", ".join(sorted(MODEL_TYPES))
                raise SemhashError(
                    f"{item!r}: write {kind}:FAMILY with FAMILY one of {names}, all."
                )
            out += [Method(kind, f) for f in families]
        elif kind in ("raw", "features", *HASHERS) and not family:
            out.append(Method(kind))
        else:
            raise SemhashError(
                f"unknown method {item!r}; use ae:FAMILY, ae-real:FAMILY, ae-rerank:FAMILY, "
                "ae-asym:FAMILY, ae-tfidf:FAMILY, raw, features, lsh, pca or itq."
            )
    return list(dict.fromkeys(out))


def parse_bits(text: str) -> list[int]:
    """`16,32,64` -> [16, 32, 64]; each a multiple of 8 between 8 and 1024."""
    try:
        bits = [int(b) for b in text.split(",") if b.strip()]
    except ValueError:
        raise SemhashError(f"--bits takes comma-separated numbers, not {text!r}.") from None
    bad = [b for b in bits if not 8 <= b <= 1024 or b % 8]
    if not bits or bad:
        raise SemhashError(f"--bits must be multiples of 8 between 8 and 1024, not {text!r}.")
    return sorted(set(bits))


@dataclass
class BenchOptions:
    dataset: str = "fashion-mnist"
    bits: list[int] = field(default_factory=lambda: parse_bits(DEFAULT_BITS))
    queries: int = 1000
    seed: int = 0
    db_size: int = 0  # > 0: a seeded sample of this many database items
    vocab: int = 10_000  # text: vocabulary size, for the codes and TF-IDF alike
    vocab_by: str = "count"  # text: rank words by total count or document frequency
    query_text: str = "post"  # 20news: the whole query post, or its Subject: line alone
    methods: list[Method] = field(default_factory=lambda: parse_methods(DEFAULT_METHODS))
    out: Path = Path("report")
    epochs: int | None = None  # None: the training default
    quality: str = "default"  # the training preset (retrieval.presets)
    device: str = "auto"
    top_n: int = 0  # ranked-list length for the curves; 0 = the whole database (exact)
    radius: int = 2
    timing_k: int = 100
    shortlist: int = 1000  # ae-rerank, ae-asym, ae-tfidf: Hamming candidates re-ranked
    single_queries: int = 200  # queries timed one at a time
    features: str = "pixels"  # image data: also through this backbone (bench.features)
    input_size: int = 0  # the side the backbone sees (0: the features kind's default)


@dataclass
class BenchReport:
    rows: list[dict]
    protocol: dict
    files: list[Path] = field(default_factory=list)
    timings: dict = field(default_factory=dict)


def run_bench(opts: BenchOptions) -> BenchReport:
    """Load the data set, run every method at every code length, write the report."""
    start, timings = time.perf_counter(), {}
    if opts.db_size < 0 or opts.db_size == 1:
        raise SemhashError(f"--db-size must be 0 (all) or at least 2, not {opts.db_size}.")
    if opts.vocab < 2:
        raise SemhashError(f"--vocab must be at least 2, not {opts.vocab}.")
    with timed("load data", timings):
        data = load_bench_data(opts.dataset, opts.queries, opts.seed, opts.db_size,
                               opts.vocab, opts.vocab_by, opts.query_text)  # fmt: skip
    return bench(data, opts, timings, start)


def bench(data: BenchData, opts: BenchOptions, timings: dict | None = None,
          start: float | None = None) -> BenchReport:  # fmt: skip
    """Run the benchmark on data already loaded, and write the report into `opts.out`."""
    start = time.perf_counter() if start is None else start
    timings = {} if timings is None else timings
    if opts.epochs is not None and opts.epochs < 1:
        raise SemhashError("--epochs must be at least 1.")
    # the default image model stands for the kind's default model
    swap = {"conv-dae": get_kind(data.kind).default_family}
    opts.methods = [Method(m.kind, swap.get(m.family, m.family)) for m in opts.methods]
    if opts.features != "pixels":
        from semantic_hashing.bench.features import features_data

        with timed("features", timings):
            data.features = features_data(data, opts.features, opts.input_size, timings)
    elif any(m.kind == "features" or m.family == "feature-dae" for m in opts.methods):
        raise SemhashError("the features method and feature-dae need --features NAME.")
    rows = run_methods(data, opts, timings)
    order = {m.name: i for i, m in enumerate(opts.methods)}
    rows.sort(key=lambda r: (order[r["method"]], r["bits"] or 0))
    out = Path(opts.out)
    out.mkdir(parents=True, exist_ok=True)
    with timed("plots", timings):
        pngs = report_mod.write_plots(rows, out)
    timings["total"] = time.perf_counter() - start
    protocol = report_mod.protocol(data, opts, timings)
    files = report_mod.write_report(rows, protocol, out, pngs)
    return BenchReport(rows, protocol, files, timings)
