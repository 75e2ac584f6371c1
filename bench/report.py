"""The benchmark report: a terminal table, report.json, report.md and PNG plots."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
from pathlib import Path

from semantic_hashing.retrieval import __version__
from semantic_hashing.retrieval.kinds import get_kind

# (header, row key, format) of the table shown on the terminal and in report.md
COLUMNS = [
    ("method", "method", "{}"), ("bits", "bits", "{}"),
    ("P@10", "p@10", "{:.3f}"), ("P@100", "p@100", "{:.3f}"), ("mAP@1000", "map@1000", "{:.3f}"),
    ("P@r2", "radius_precision", "{:.3f}"), ("hit@r2", "radius_hit_fraction", "{:.2f}"),
    ("ms/q batch", "query_ms_batch", "{:.3f}"), ("ms/q single", "query_ms_single", "{:.3f}"),
    ("encode/s", "encode_items_per_s", "{:,.0f}"), ("train s", "train_seconds", "{:.1f}"),
    ("steps", "steps", "{:,}"),
    ("B/item", "bytes_per_item", "{}"),
]  # fmt: skip

DEFINITIONS = """\
- Relevant = same label. Rankings are exact (every query against every database item) and
  stable: items at equal distance keep database order.
- P@k: mean fraction of relevant items in the top k. mAP@1000: AP over the top 1,000,
  normalised by the relevant items retrieved there.
- P@r2: mean precision of the items within Hamming radius 2 (a query with none counts 0);
  hit@r2: fraction of queries with at least one item in that ball. Binary methods only.
- Curves: precision and recall averaged over queries at each cut-off k of the ranked list
  (the first `top_n` items); recall's denominator is all relevant items in the database.
- Query time: FAISS on one thread (IndexBinaryFlat for codes, IndexFlatL2 / IndexFlatIP for
  real vectors), top `timing_k`; batch = all queries in one call, single = one per call.
  Encoding the query is not included; encode/s is the database encoding throughput.
- train s: autoencoder training, or fitting LSH/PCA/ITQ on the database features; steps:
  the autoencoder's optimiser steps.
"""


def _cell(row: dict, key: str, fmt: str) -> str:
    value = row.get(key)
    return "-" if value is None else fmt.format(value)


def format_table(rows: list[dict]) -> str:
    """A fixed-width table with one line per (method, bits)."""
    cells = [[h for h, _, _ in COLUMNS]] + [[_cell(r, k, f) for _, k, f in COLUMNS] for r in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(COLUMNS))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                       for i, (c, w) in enumerate(zip(line, widths, strict=True)))
             for line in cells]  # fmt: skip
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def markdown_table(rows: list[dict]) -> str:
    head = "| " + " | ".join(h for h, _, _ in COLUMNS) + " |"
    rule = "|" + "|".join("---" if i < 1 else "--:" for i in range(len(COLUMNS))) + "|"
    body = ["| " + " | ".join(_cell(r, k, f) for _, k, f in COLUMNS) + " |" for r in rows]
    return "\n".join([head, rule, *body])


def versions() -> dict:
    import faiss
    import numpy
    import sklearn
    import torch

    return {
        "semhash": __version__, "python": platform.python_version(),
        "numpy": numpy.__version__, "torch": str(torch.__version__),
        "faiss": faiss.__version__, "scikit-learn": sklearn.__version__,
        "platform": platform.platform(), "cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
    }  # fmt: skip


def protocol(data, opts, timings: dict) -> dict:
    """Everything needed to read and repeat the numbers."""
    from semantic_hashing.retrieval.training import describe_device, resolve_device

    n_db = len(data.db_labels)
    return {
        "dataset": str(opts.dataset), "kind": data.kind,
        "database_items": n_db, "queries": len(data.q_labels), "seed": opts.seed,
        "labels": list(data.names), "relevant": "same label",
        "ties": "database order (stable sort)", "bits": list(opts.bits),
        "methods": [m.name for m in opts.methods],
        "top_n": min(opts.top_n or n_db, n_db), "radius": opts.radius,
        "timing_k": opts.timing_k, "single_queries": min(opts.single_queries, len(data.q_labels)),
        "faiss_threads": 1,
        "db_size": opts.db_size or None,
        "query_text": opts.query_text if get_kind(data.kind).word_counts else None,
        "vocabulary": None if data.vocab is None else
        f"{len(data.vocab)} words ranked by {opts.vocab_by} (codes and TF-IDF)",
        "training": training_budget(opts, data),
        "quality": opts.quality,
        "device": describe_device(resolve_device(opts.device)),
        "versions": versions(), "wall_seconds": {k: round(v, 2) for k, v in timings.items()},
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }  # fmt: skip


def training_budget(opts, data) -> str:
    """How long the autoencoders trained: the epochs asked for, or the step budget of the
    `--quality` preset for this data (e.g. "step budget 8000-12000 steps (quality high)")."""
    from semantic_hashing.retrieval.presets import get_preset, inputs_of
    from semantic_hashing.retrieval.training import TrainConfig

    if opts.epochs:
        return f"{opts.epochs} epochs"
    channels = data.db_inputs.shape[1] if data.db_inputs.ndim == 4 else 1  # (N, C, S, S)
    given = get_preset(opts.quality).train_config(inputs_of(data.kind, channels), TrainConfig())
    run = given.resolved(data.kind, max(data.db_inputs.shape[0], 2))
    return f"step budget {run.min_steps}-{run.max_steps} steps (quality {opts.quality})"


def write_plots(rows: list[dict], out: Path) -> list[Path]:
    """Precision-recall and recall@k per code length, and P@100 against code length."""
    from semantic_hashing.bench.plots import plot_p100_vs_bits, plot_pr_curves

    return plot_pr_curves(rows, out) + [plot_p100_vs_bits(rows, out / "p100-vs-bits.png")]


def write_report(rows: list[dict], protocol: dict, out: Path, pngs: list[Path]) -> list[Path]:
    """Write report.json and report.md (showing `pngs`) into `out`; return every path."""
    report_json = out / "report.json"
    report_json.write_text(json.dumps({"protocol": protocol, "rows": rows}, indent=1) + "\n")
    md = out / "report.md"
    md.write_text(markdown(rows, protocol, pngs))
    return [report_json, md, *pngs]


def markdown(rows: list[dict], protocol: dict, pngs: list[Path]) -> str:
    p = protocol
    lines = [
        f"# semhash bench: {p['dataset']}", "",
        f"{p['database_items']:,} database items, {p['queries']:,} queries (seed {p['seed']}),"
        f" {len(p['labels'])} labels; ranked lists of {p['top_n']:,} items;"
        f" training: {p['training']}; device: {p['device']}; {p['date']}."
        + (f" Vocabulary: {p['vocabulary']}." if p.get("vocabulary") else "")
        + (" Queries: each query post's Subject: line alone." if p.get("query_text") ==
           "subject" else ""), "",
        markdown_table(rows), "", DEFINITIONS,
        "Wall time (s): " + ", ".join(f"{k} {v:.0f}" for k, v in p["wall_seconds"].items()),
        "", "Versions: " + ", ".join(f"{k} {v}" for k, v in p["versions"].items()), "",
    ]  # fmt: skip
    lines += [f"![{png.stem}]({png.name})" for png in pngs]
    return "\n".join(lines) + "\n"
