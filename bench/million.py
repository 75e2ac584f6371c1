"""`semhash bench --task million`: every job on an N-item collection (N = 1,000,000 by
default), each as its own process of the installed `semhash` or over HTTP.

The files (`million_data`: real Fashion-MNIST and CIFAR-10 images under seeded transforms,
planted exact and near copies) are indexed as one folder with `--features pixels`: the
backbone that colour folders get by default extracts about 100 images/s on 2 cores (hours for
a million), so its rate is measured on a sample instead and projected. Then, in order: add
1,000 new files (an incremental `semhash index`), `semhash serve` (collection info as the page
asks for it; searches by id from concurrent clients), a one-shot `semhash search --id`,
`dedup` (recall of the planted copies), `outliers`, `check`, `remove` of 10,000 ids, and
the collection's bytes per item (of the items left, split by file). Everything lands in
`OUT/million.json`.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from semantic_hashing.bench.million_data import Plan, add_files, make_files
from semantic_hashing.bench.million_jobs import (
    Served,
    dedup_recall,
    disk_per_item,
    info_ms,
    json_lines,
    search_by_id,
    semhash,
)
from semantic_hashing.retrieval.errors import SemhashError
from semantic_hashing.retrieval.pool import cores

log = logging.getLogger(__name__)
HERE = Path(__file__).resolve().parent.parent
MIN_ITEMS = 1000
ADDED = re.compile(r"\b(added|changed|unchanged|removed|skipped) (\d+)")  # index's summary
FIGURES = ("index_s", "index_peak_gb", "add_1k_s", "serve_p50_ms", "serve_p99_ms", "info_ms",
           "cli_search_s", "dedup_s", "dedup_peak_gb", "dedup_recall", "outliers_s", "check_s",
           "remove_10k_s", "bytes_per_item")  # fmt: skip


@dataclass
class MillionOptions:
    out: Path = Path("report/million")
    items: int = 1_000_000
    seed: int = 0
    epochs: int | None = None  # None: the step budget `semhash index` sizes itself
    added: int = 1000
    removed: int = 10_000  # at most a tenth of the items at small N
    clients: int = 8
    requests: int = 1000  # in all, over the clients
    workers: int = 0  # `semhash serve --workers` of the search figures (0: this machine's cores)
    backbone_images: int = 64  # timed through the backbone for the colour projection
    milvus: bool = True  # the collection's codes through the embedded Milvus server


def check_options(opts: MillionOptions) -> None:
    """One sentence for a bad option, before anything is written."""
    if opts.items < MIN_ITEMS:
        raise SemhashError(f"--items must be at least {MIN_ITEMS:,}, not {opts.items:,}.")
    try:
        opts.out.mkdir(parents=True, exist_ok=True)
        probe = opts.out / ".writable"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise SemhashError(f"cannot write to --out {opts.out}: {exc.strerror}.") from None


def run_million(opts: MillionOptions) -> dict:
    check_options(opts)
    out = opts.out.resolve()
    plan = Plan(opts.items, opts.seed)
    start = time.perf_counter()
    root, truth = make_files(out, plan)
    report = {"items": 0, "files_s": round(time.perf_counter() - start, 1)}
    coll = out / "million.semhash"
    shutil.rmtree(coll, ignore_errors=True)
    figures: dict[str, dict] = {}
    report.update(index_jobs(root, coll, plan, opts, figures))
    report.update(serve_jobs(coll, report["items"], opts, figures))
    report["milvus"] = milvus_job(coll, opts) if opts.milvus else {}
    report.update(collection_jobs(coll, root, truth, report["items"], opts, figures))
    report.update(backbone=backbone_rate(opts), features=FEATURES, figures=figures,
                  planted=len(truth), removed=min(opts.removed, report["items"] // 10),
                  **provenance(opts))  # fmt: skip
    report["wall_s"] = round(time.perf_counter() - start, 1)
    (out / "million.json").write_text(json.dumps(report, indent=1))
    return report


FEATURES = {"fashion-mnist (gray 28x28 PNG)": "pixels", "cifar10 (colour 32x32 JPEG)": "pixels"}


def index_jobs(root: Path, coll: Path, plan: Plan, opts: MillionOptions, figures: dict) -> dict:
    epochs = ["--epochs", str(opts.epochs)] if opts.epochs else []
    cmd = ["index", str(root), "-c", str(coll), "--features", "pixels", "--seed",
           str(opts.seed), "-q", *epochs]  # fmt: skip
    run = _record(figures, "index_s", semhash(*cmd), cmd)
    got = {"index_s": run.seconds, "index_peak_gb": run.peak_gb}
    info = json.loads(semhash("info", str(coll), "--json").stdout)
    got["items"] = info["items"]
    added = add_files(root, plan, opts.added)
    cmd = ["index", str(root), "-c", str(coll), "-q"]  # the collection's model, nothing new
    run = _record(figures, "add_1k_s", semhash(*cmd), cmd, files=len(list(added.rglob("*.*"))))
    got["add_1k_s"] = run.seconds
    got["add_counts"] = {k: int(v) for k, v in ADDED.findall(run.stdout)}
    got["items_after_add"] = json.loads(semhash("info", str(coll), "--json").stdout)["items"]
    return got


def serve_jobs(coll: Path, items: int, opts: MillionOptions, figures: dict) -> dict:
    """Searches by id from `opts.clients` clients against `semhash serve --workers W` (W:
    opts.workers, else the cores) and, for comparison, against one process; the
    collection's info as the page asks for it; then one `semhash search --id`."""
    ids = np.random.default_rng(opts.seed).choice(items, min(items, 500), replace=False).tolist()
    workers = opts.workers or cores()
    with Served(coll, workers=workers) as served:
        info = info_ms(served)
        figures["info_ms"] = {"load": round(os.getloadavg()[0], 2),
                              "cmd": "GET /api/collections/NAME"}  # fmt: skip
        got = search_by_id(served, ids, opts.clients, opts.requests)
    figures["serve_p50_ms"] = {"load": round(os.getloadavg()[0], 2), "requests": got["requests"],
                               "clients": opts.clients, "cmd": f"semhash serve --workers "
                               f"{workers}; POST .../search {{id, k: 10}}"}  # fmt: skip
    if workers == 1:
        one = got
    else:
        with Served(coll) as served:
            one = search_by_id(served, ids, opts.clients, opts.requests)
    cmd = ["search", str(coll), "--id", str(ids[0]), "--json", "-q"]
    run = _record(figures, "cli_search_s", semhash(*cmd), cmd)
    return {"serve_workers": workers, "info_ms": info, "serve_p50_ms": got["p50_ms"],
            "serve_p99_ms": got["p99_ms"], "serve_rps": got["throughput_rps"],
            "serve_one_process": {k: one[k] for k in ("p50_ms", "p99_ms", "throughput_rps")},
            "cli_search_s": run.seconds}  # fmt: skip


def milvus_job(coll: Path, opts: MillionOptions) -> dict:
    """The collection's codes inserted into the embedded Milvus server (BIN_FLAT, Hamming):
    insert rate and one-query-at-a-time latency next to FAISS's flat scan (bench-milvus
    --collection); empty with the reason where the `milvus` package is not installed."""
    from importlib.util import find_spec

    if find_spec("milvus") is None:
        return {"skipped": "the embedded Milvus server (package milvus) is not installed"}
    from semantic_hashing.bench.milvus import MilvusBenchOptions, run_milvus_bench

    row = run_milvus_bench(MilvusBenchOptions(out=opts.out / "milvus", collection=coll,
                                              seed=opts.seed))["rows"][0]  # fmt: skip
    m, e, f = row["milvus"], row["milvus_eventually"], row["faiss_flat"]
    return {"codes": row["n"], "insert_s": m["insert_s"], "insert_per_s": m["insert_per_s"],
            "p50_ms": m["ms_p50"], "p99_ms": m["ms_p99"], "eventually_p50_ms": e["ms_p50"],
            "faiss_flat_p50_ms": f["ms_p50"], "recall": m["recall"],
            "same_distances": row["same_distances"]}  # fmt: skip


def collection_jobs(coll: Path, root: Path, truth: list[dict], items: int, opts: MillionOptions,
                    figures: dict) -> dict:  # fmt: skip
    got = {}
    cmd = ["dedup", str(coll), "--json", "-q"]
    run = _record(figures, "dedup_s", semhash(*cmd), cmd)
    groups = json_lines(run.stdout)
    got.update(dedup_s=run.seconds, dedup_peak_gb=run.peak_gb, dedup_groups=len(groups),
               dedup_recall=dedup_recall(groups, truth, root))  # fmt: skip
    cmd = ["outliers", str(coll), "--json", "-q"]
    got["outliers_s"] = _record(figures, "outliers_s", semhash(*cmd), cmd).seconds
    cmd = ["check", str(coll), "--json", "-q"]
    run = _record(figures, "check_s", semhash(*cmd), cmd)
    got["check_s"], got["check_problems"] = run.seconds, _problems(run.stdout)
    ids = np.random.default_rng(opts.seed + 1).choice(items, min(opts.removed, items // 10),
                                                      replace=False)  # fmt: skip
    cmd = ["remove", str(coll), "-q", *(a for i in ids for a in ("--id", str(int(i))))]
    run = _record(figures, "remove_10k_s", semhash(*cmd), cmd[:5] + ["..."])
    got["remove_10k_s"] = run.seconds
    if f"removed {len(ids)} items" not in run.stdout:
        raise SemhashError(f"remove did not remove the {len(ids)} ids: {run.stdout.strip()}")
    left = json.loads(semhash("info", str(coll), "--json").stdout)["items"]
    got.update(items_after_remove=left, bytes_per_item=disk_per_item(coll, left))
    return got


def _problems(stdout: str) -> int:
    return sum(json.loads(stdout)["problems"].values())


def _record(figures: dict, key: str, run, cmd: list[str], **extra):
    figures[key] = {"load": round(run.load, 2), "peak_gb": round(run.peak_gb, 3),
                    "cpu_s": round(run.cpu_s, 2),
                    "cmd": "semhash " + " ".join(cmd), **extra}  # fmt: skip
    log.info("%s: %.2f s, %.2f CPU-s, %.2f GB peak (load %.2f)", key, run.seconds, run.cpu_s,
             run.peak_gb, run.load)  # fmt: skip
    return run


def backbone_rate(opts: MillionOptions) -> dict:
    """Images/s of the default backbone on this machine's cores (decoded images at its
    default input size, after a warm-up pass) and what a million colour photos would take;
    empty when the 'features' extra is not installed."""
    from semantic_hashing.bench.indexing import IndexingBenchOptions, backbone_speed
    from semantic_hashing.retrieval.backbones import BACKBONES
    from semantic_hashing.retrieval.kinds.features import DEFAULT_BACKBONE, DEFAULT_INPUT_SIZE

    if not BACKBONES[DEFAULT_BACKBONE].available():
        return {}
    speed = backbone_speed(IndexingBenchOptions(features=DEFAULT_BACKBONE, seed=opts.seed,
                                                backbone_sizes=(DEFAULT_INPUT_SIZE,),
                                                backbone_images=opts.backbone_images))  # fmt: skip
    rate = speed[str(DEFAULT_INPUT_SIZE)]
    return {"name": DEFAULT_BACKBONE, "input_size": DEFAULT_INPUT_SIZE, "device": "cpu",
            "images_per_s": round(rate, 1), "million_colour_s": round(1e6 / rate),
            "gpu": "not measured: no GPU on this machine"}  # fmt: skip


def provenance(opts: MillionOptions) -> dict:
    try:
        cmd = ["git", "-C", str(HERE), "rev-parse", "--short", "HEAD"]
        commit = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {"commit": commit, "date": datetime.now(UTC).strftime("%Y-%m-%d"),
            "machine": {"cores": cores(), "ram_gb": round(ram, 1), "cpu": platform.processor()
                        or platform.machine(), "load_avg": list(os.getloadavg())},
            "seed": opts.seed, "epochs": opts.epochs}  # fmt: skip


def as_table(report: dict) -> str:
    rows = ["| figure | value | load |", "|---|---:|---:|"]
    for key in FIGURES:
        value = report[key]
        if isinstance(value, dict):
            value = ", ".join(f"{k} {v:,.1f}" for k, v in value.items())
        elif isinstance(value, float):
            value = f"{value:,.3f}"
        load = report["figures"].get(key, {}).get("load", "")
        rows.append(f"| `{key}` | {value} | {load} |")
    m, b = report["machine"], report.get("backbone") or {}
    rows.append(f"\n{report['items']:,} items ({report['planted']:,} planted copies), "
                f"{m['cores']} cores, {m['ram_gb']} GB, commit {report['commit']}")  # fmt: skip
    if b:
        hours = b["million_colour_s"] / 3600
        rows.append(f"{b['name']} at {b['input_size']} px: {b['images_per_s']} images/s, a "
                    f"million colour photos {hours:.1f} h on the CPU")  # fmt: skip
    return "\n".join(rows)
