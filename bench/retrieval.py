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
from semantic_hashing.bench.methods import run_methods
from semantic_hashing.bench.options import FLOAT_FEATURES, BenchOptions, Method
from semantic_hashing.retrieval.errors import SemhashError
from semantic_hashing.retrieval.kinds import get_kind
from semantic_hashing.retrieval.progress import timed

log = logging.getLogger(__name__)


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
    elif any(m.kind == FLOAT_FEATURES or m.family == "feature-dae" for m in opts.methods):
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
