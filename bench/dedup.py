"""`semhash bench --task dedup`: duplicate finding measured against ground truth.

Images (`--dataset cifar10`): the seeded near-duplicate set of query/bench_dedup_data.py
from CIFAR-10's 10,000 test images (1,000 originals with 1-3 copies each, the other 9,000 as
distractors). semhash indexes the folder (training its model on it, as a user would) and
runs `dedup` at its defaults; imagededup's PHash, DHash, WHash and AHash (the `bench`
extra) hash the same folder and find duplicates at their default threshold (10) and at
their best threshold on this very set (an oracle choice, in their favour). Pairwise
precision, recall and F1 against the ground-truth groups, and wall time, in one run.
`--calibrate` builds a second set from CIFAR-10 *training* images and sweeps semhash's
radius and verification threshold on it (where the defaults come from).

Text (`--dataset 20news`): the whole 19,997-post release indexed as one collection; ground
truth = posts sharing a `Message-ID` header (cross-posts filed under several groups).
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from semantic_hashing.bench.dedup_data import build_near_duplicates, group_pairs, pair_scores
from semantic_hashing.indexer.pipeline import IndexOptions, index_folder
from semantic_hashing.indexer.store import Store
from semantic_hashing.query.candidates import self_pairs
from semantic_hashing.query.dedup import (
    candidate_bits,
    collection_items,
    dedup_items,
    exact_pairs,
    find_duplicates,
)
from semantic_hashing.retrieval import datasets
from semantic_hashing.retrieval.errors import SemhashError
from semantic_hashing.retrieval.fitting import TrainSpec
from semantic_hashing.retrieval.training import TrainConfig

log = logging.getLogger(__name__)

HASHES = ("PHash", "DHash", "WHash", "AHash")
IMAGEDEDUP_DEFAULT = 10
WIDE = 16  # thresholds searched for imagededup's best (of its 64-bit hashes)


@dataclass
class DedupBenchOptions:
    dataset: str = "cifar10"
    out: Path = Path("report/dedup")
    seed: int = 0
    originals: int = 1000
    epochs: int | None = None
    calibrate: bool = False
    imagededup: bool = True
    features: str = "pixels"  # images: pixels (the measured defaults) or a backbone


def _index(folder: Path, coll: Path, opts: DedupBenchOptions, kind: str | None = None) -> float:
    if coll.exists():
        shutil.rmtree(coll)
    tcfg = TrainConfig(seed=opts.seed)
    if opts.epochs:
        tcfg.epochs = opts.epochs
    t0 = time.perf_counter()
    spec = TrainSpec(device="cpu", train=tcfg, features=opts.features)
    index_folder(folder, coll, IndexOptions(spec=spec, kind=kind))
    return time.perf_counter() - t0


def _names(groups) -> list[list[str]]:
    return [[Path(m.path).name for m in g.members] for g in groups]


def semhash_row(folder: Path, coll: Path, truth: set, opts: DedupBenchOptions) -> dict:
    index_s = _index(folder, coll, opts)
    stats: dict = {}
    with Store.open(coll) as store:
        t0 = time.perf_counter()
        groups = find_duplicates(store, stats=stats)
        dedup_s = time.perf_counter() - t0
    name = (
        "semhash dedup (defaults)"
        if opts.features == "pixels"
        else (f"semhash dedup ({opts.features})")
    )
    row = {"method": name, **pair_scores(group_pairs(_names(groups)), truth),
           "index_s": round(index_s, 1), "dedup_s": round(dedup_s, 2),
           "wall_s": round(index_s + dedup_s, 1),
           "candidate_pairs": stats.get("candidate_pairs")}  # fmt: skip
    return row


def imagededup_rows(folder: Path, truth: set) -> list[dict]:
    try:
        from imagededup import methods
    except ImportError as exc:
        raise SemhashError(
            f"imagededup is not installed ({exc}): pip install -e '.[bench]'."
        ) from None
    rows = []
    for name in HASHES:
        hasher = getattr(methods, name)(verbose=False)
        t0 = time.perf_counter()
        enc = hasher.encode_images(image_dir=str(folder))
        found = hasher.find_duplicates(encoding_map=enc, max_distance_threshold=IMAGEDEDUP_DEFAULT,
                                       scores=True)  # fmt: skip
        wall = time.perf_counter() - t0
        wide = hasher.find_duplicates(encoding_map=enc, max_distance_threshold=WIDE, scores=True)
        edges = {(tuple(sorted((a, b))), int(d)) for a, dups in wide.items() for b, d in dups}
        default = {p for p, d in edges if d <= IMAGEDEDUP_DEFAULT}
        assert default == {tuple(sorted((a, b))) for a, v in found.items() for b, _ in v}
        best = max((pair_scores({p for p, d in edges if d <= t}, truth) | {"threshold": t}
                    for t in range(0, WIDE + 1)), key=lambda r: r["f1"])  # fmt: skip
        rows.append({"method": f"imagededup {name} (threshold {IMAGEDEDUP_DEFAULT})",
                     **pair_scores(default, truth), "wall_s": round(wall, 1)})  # fmt: skip
        rows.append({"method": f"imagededup {name} (best threshold {best['threshold']})",
                     **best, "wall_s": round(wall, 1)})  # fmt: skip
    return rows


def calibrate(coll: Path, groups_truth: list[list[str]]) -> list[dict]:
    """Edge-level P/R/F1 of semhash's candidates over a grid of radius and threshold."""
    truth = group_pairs(groups_truth)
    with Store.open(coll) as store:
        items = dedup_items(store, need_inputs=True)
        names = np.array([Path(p).name for p in items.paths])
        pairs = self_pairs(items.ids, items.codes, candidate_bits(store), 20, 50)
        pa, pb = np.searchsorted(items.ids, pairs.a), np.searchsorted(items.ids, pairs.b)
        sim = store.input_kind.pair_similarity(items.inputs, items.inputs, pa, pb)
        ea, eb = exact_pairs(items.sha256)
    exact = {tuple(sorted(p)) for p in zip(names[ea], names[eb], strict=True)}
    cand = [tuple(sorted(p)) for p in zip(names[pa], names[pb], strict=True)]
    rows = []
    for radius in (4, 6, 8, 10, 12, 14, 16, 20):
        for threshold in (0.7, 0.75, 0.8, 0.85, 0.88, 0.9, 0.92, 0.94, 0.96, 0.98):
            keep = (pairs.distance <= radius) & (sim >= threshold)
            got = {cand[i] for i in np.flatnonzero(keep)} | exact
            rows.append({"radius": radius, "threshold": threshold, **pair_scores(got, truth)})
    return rows


def run_image_dedup_bench(opts: DedupBenchOptions) -> dict:
    root = datasets.cifar10_folder()
    out = Path(opts.out)
    report: dict = {"protocol": {"source": str(root / "test"), "originals": opts.originals,
                                 "seed": opts.seed}}  # fmt: skip
    if opts.calibrate:
        cal = build_near_duplicates(root / "train", out / "calibration-set", opts.originals,
                                    opts.seed + 1, n_images=10_000)  # fmt: skip
        _index(cal.folder, out / "calibration.semhash", opts)
        report["calibration"] = calibrate(out / "calibration.semhash", cal.groups)
    data = build_near_duplicates(root / "test", out / "near-dup-set", opts.originals, opts.seed)
    truth = data.pairs()
    report["protocol"].update(images=len(list(data.folder.iterdir())), true_pairs=len(truth))
    rows = [semhash_row(data.folder, out / "near-dup.semhash", truth, opts)]
    if opts.imagededup:
        rows += imagededup_rows(data.folder, truth)
    report["rows"] = rows
    return report


def message_ids(paths: list[str]) -> list[str]:
    from semantic_hashing.retrieval.text import decode, split_header

    out = []
    for path in paths:
        with open(path, "rb") as fh:
            fields, _ = split_header(decode(fh.read(65536)).replace("\r\n", "\n"))
        out.append(fields.get("message-id", ""))
    return out


def run_text_dedup_bench(opts: DedupBenchOptions) -> dict:
    folder = datasets.newsgroups_folder()
    out = Path(opts.out)
    index_s = _index(folder, out / "20news.semhash", opts, kind="text")
    stats: dict = {}
    with Store.open(out / "20news.semhash") as store:
        t0 = time.perf_counter()
        groups = find_duplicates(store, stats=stats)
        dedup_s = time.perf_counter() - t0
        items = collection_items(store, need_inputs=False)
    mids = message_ids(items.paths)
    by_mid: dict[str, list[str]] = {}
    for path, mid in zip(items.paths, mids, strict=True):
        if mid:
            by_mid.setdefault(mid, []).append(path)
    truth = group_pairs([g for g in by_mid.values() if len(g) > 1])
    got = group_pairs([[m.path for m in g.members] for g in groups])
    sha_groups: dict[str, list[str]] = {}
    for path, digest in zip(items.paths, items.sha256, strict=True):
        sha_groups.setdefault(digest, []).append(path)
    exact = group_pairs([g for g in sha_groups.values() if len(g) > 1])
    return {"protocol": {"posts": len(items.paths), "true_pairs": len(truth),
                         "byte_identical_pairs": len(exact)},
            "rows": [{"method": "semhash dedup (defaults)", **pair_scores(got, truth),
                      "index_s": round(index_s, 1), "dedup_s": round(dedup_s, 2)},
                     {"method": "sha256 only", **pair_scores(exact, truth)}]}  # fmt: skip


def run_dedup_bench(opts: DedupBenchOptions) -> dict:
    run = {"cifar10": run_image_dedup_bench, "20news": run_text_dedup_bench}.get(opts.dataset)
    if run is None:
        raise SemhashError(f"bench --task dedup runs on cifar10 or 20news, not {opts.dataset}.")
    report = run(opts)
    out = Path(opts.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"dedup-{opts.dataset}.json").write_text(json.dumps(report, indent=2))
    return report


def as_table(report: dict) -> str:
    rows = report["rows"]
    lines = [f"{'method':44} {'P':>6} {'R':>6} {'F1':>6} {'pairs':>7} {'wall s':>7}"]
    for r in rows:
        lines.append(f"{r['method']:44} {r['precision']:6.3f} {r['recall']:6.3f} {r['f1']:6.3f} "
                     f"{r['pairs']:7d} {r.get('wall_s', r.get('dedup_s', '')):>7}")  # fmt: skip
    return "\n".join(lines)
