"""`semhash bench --task outliers`: reconstruction error as an anomaly score, measured.

injected   Fashion-MNIST test images (10,000; `--split train` for the 60,000) with 1%
           foreign images among them: CIFAR-10 test images made 28x28 grayscale,
           picked with `np.random.default_rng(seed)`. The model trains on the mixed
           collection without labels, as `semhash index` would; every item is scored by
           its reconstruction error. AUROC (foreign = positive) and the precision among
           the top 1% of scores, for each metric (the model's loss, pixel MSE).
one-class  the literature's protocol: train on the training images of one Fashion-MNIST
           class, score the whole test set, AUROC of "not that class"; the mean over
           the classes run (`--classes`, all ten by default; `--budget` stops starting
           new ones after that many seconds on a slow machine, and says so).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from semantic_hashing.query.reconstruct import METRICS, reconstruction_errors
from semantic_hashing.retrieval import datasets
from semantic_hashing.retrieval.fitting import TrainSpec, train_image_encoder
from semantic_hashing.retrieval.images import list_images
from semantic_hashing.retrieval.training import TrainConfig

log = logging.getLogger(__name__)


@dataclass
class OutlierBenchOptions:
    out: Path = Path("report/outliers")
    seed: int = 0
    split: str = "test"
    fraction: float = 0.01
    epochs: int | None = None
    classes: tuple[int, ...] = tuple(range(10))
    budget_s: float = 3600.0
    device: str = "cpu"


def auroc(scores: np.ndarray, positive: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(positive.astype(int), scores))


def precision_at_top(scores: np.ndarray, positive: np.ndarray, fraction: float) -> float:
    n = max(1, round(len(scores) * fraction))
    top = np.argsort(-scores, kind="stable")[:n]
    return float(positive[top].mean())


def foreign_images(n: int, seed: int) -> np.ndarray:
    """`n` seeded CIFAR-10 test images as (n, 1, 28, 28) uint8 grayscale."""
    paths = list_images(datasets.cifar10_folder() / "test")
    picked = np.random.default_rng(seed).choice(len(paths), n, replace=False)
    out = []
    for i in sorted(picked):
        with Image.open(paths[i]) as img:
            gray = img.convert("L").resize((28, 28), Image.Resampling.BILINEAR)
            out.append(np.asarray(gray, dtype=np.uint8)[None])
    return np.stack(out)


def _spec(opts: OutlierBenchOptions) -> TrainSpec:
    tcfg = TrainConfig(seed=opts.seed)
    if opts.epochs:
        tcfg.epochs = opts.epochs
    return TrainSpec(device=opts.device, train=tcfg)


def injected(opts: OutlierBenchOptions) -> dict:
    normal = datasets.load_fashion_mnist(opts.split).images
    n_foreign = max(1, round(len(normal) * opts.fraction))
    data = np.concatenate([normal, foreign_images(n_foreign, opts.seed)])
    positive = np.r_[np.zeros(len(normal), bool), np.ones(n_foreign, bool)]
    order = np.random.default_rng(opts.seed).permutation(len(data))  # foreign ones mixed in
    data, positive = data[order], positive[order]
    t0 = time.perf_counter()
    encoder, _ = train_image_encoder(data, _spec(opts))
    train_s = time.perf_counter() - t0
    out = {"items": len(data), "foreign": n_foreign, "train_s": round(train_s, 1)}
    for metric in METRICS:
        t0 = time.perf_counter()
        scores = reconstruction_errors(encoder, data, metric)
        out[metric] = {"auroc": round(auroc(scores, positive), 4),
                       "precision_top_1pct": round(precision_at_top(scores, positive, 0.01), 4),
                       "score_s": round(time.perf_counter() - t0, 2)}  # fmt: skip
    return out


def one_class(opts: OutlierBenchOptions) -> dict:
    train, test = datasets.load_fashion_mnist("train"), datasets.load_fashion_mnist("test")
    rows, start = [], time.perf_counter()
    for c in opts.classes:
        if time.perf_counter() - start > opts.budget_s:
            log.warning("one-class: time budget spent after %d classes", len(rows))
            break
        t0 = time.perf_counter()
        encoder, _ = train_image_encoder(train.images[train.labels == c], _spec(opts))
        row = {"class": datasets.FASHION_CLASSES[c], "train_s": round(time.perf_counter() - t0, 1)}
        for metric in METRICS:
            scores = reconstruction_errors(encoder, test.images, metric)
            row[metric] = round(auroc(scores, test.labels != c), 4)
        rows.append(row)
        log.info("one-class %s: %s", row["class"], row)
    mean = {m: round(float(np.mean([r[m] for r in rows])), 4) for m in METRICS} if rows else {}
    return {"classes": rows, "mean_auroc": mean, "classes_run": len(rows),
            "classes_asked": len(opts.classes)}  # fmt: skip


def run_outlier_bench(opts: OutlierBenchOptions, parts=("injected", "one-class")) -> dict:
    report = {"protocol": {"seed": opts.seed, "split": opts.split, "fraction": opts.fraction,
                           "epochs": opts.epochs or "default"}}  # fmt: skip
    if "injected" in parts:
        report["injected"] = injected(opts)
    if "one-class" in parts:
        report["one_class"] = one_class(opts)
    out = Path(opts.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "outliers.json").write_text(json.dumps(report, indent=2))
    return report


def as_table(report: dict) -> str:
    lines = []
    if "injected" in report:
        inj = report["injected"]
        lines.append(f"injected: {inj['items']:,} items, {inj['foreign']} foreign "
                     f"(training {inj['train_s']} s)")  # fmt: skip
        for metric in METRICS:
            m = inj[metric]
            lines.append(f"  {metric:5} AUROC {m['auroc']:.4f}  precision@top1% "
                         f"{m['precision_top_1pct']:.4f}")  # fmt: skip
    if "one_class" in report:
        oc = report["one_class"]
        lines.append(f"one-class: {oc['classes_run']} of {oc['classes_asked']} classes")
        for r in oc["classes"]:
            lines.append(f"  {r['class']:12} " + "  ".join(f"{m} {r[m]:.4f}" for m in METRICS))
        means = "  ".join(f"{m} {v:.4f}" for m, v in oc["mean_auroc"].items())
        lines.append(f"  {'mean':12} {means}")
    return "\n".join(lines)
