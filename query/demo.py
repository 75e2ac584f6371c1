"""`semhash demo`: the main job on Fashion-MNIST, end to end, with honest numbers.

Indexes the 60,000 training images (as a folder of PNGs, the same path a user's photos
take), searches with a few seeded test images next to the raw-pixel baseline, draws contact
sheets, and measures P@100 of codes and raw pixels on 1,000 seeded test queries.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from semantic_hashing.indexer.pipeline import IndexOptions, IndexReport, index_folder
from semantic_hashing.indexer.store import Store
from semantic_hashing.query.evaluate import evaluate_collection
from semantic_hashing.query.render import contact_sheet
from semantic_hashing.query.search import QueryResult, load_queries, search
from semantic_hashing.retrieval import datasets
from semantic_hashing.retrieval.progress import timed

log = logging.getLogger(__name__)


@dataclass
class DemoReport:
    out: Path
    index: IndexReport
    shown: list[tuple[QueryResult, QueryResult]]
    quality: dict
    sheets: list[Path]
    timings: dict = field(default_factory=dict)


def write_query_images(out: Path, n: int, seed: int = 0) -> list[str]:
    """Save `n` seeded Fashion-MNIST test images as PNGs; return their labels."""
    test = datasets.load_fashion_mnist("test")
    picks = np.random.default_rng(seed).choice(len(test.images), n, replace=False)
    out.mkdir(parents=True, exist_ok=True)
    labels = []
    for rank, i in enumerate(picks):
        label = test.classes[test.labels[i]]
        Image.fromarray(test.images[i][0]).save(out / f"{rank}-{label}-test{i:05d}.png")
        labels.append(label)
    return labels


def eval_queries(n: int = 1000, seed: int = 0) -> tuple[np.ndarray, list[str]]:
    """The standard protocol's queries: `n` seeded test images with their labels."""
    test = datasets.load_fashion_mnist("test")
    picks = np.random.default_rng(seed).choice(len(test.images), n, replace=False)
    return test.images[picks], [test.classes[j] for j in test.labels[picks]]


def run_demo(out: str | Path = "semhash-demo", opts: IndexOptions | None = None,
             n_show: int = 5, n_eval: int = 1000) -> DemoReport:  # fmt: skip
    out, opts, timings = Path(out), opts or IndexOptions(), {}
    start = time.perf_counter()
    with timed("prepare data", timings):
        folder = datasets.fashion_mnist_folder("train")
        write_query_images(out / "queries", n_show)
    with timed("index", timings):
        report = index_folder(folder, out / "fashion-mnist.semhash", opts)
    coll = Store.open(out / "fashion-mnist.semhash")
    with timed("search", timings):
        queries = load_queries(coll, out / "queries")
        codes = search(coll, queries)
        raw = search(coll, queries, baseline="raw")
    sheets = [
        contact_sheet(codes, out / "sheet-codes.png"),
        contact_sheet(raw, out / "sheet-raw.png"),
    ]
    with timed("evaluate", timings):
        inputs, labels = eval_queries(n_eval)
        quality = evaluate_collection(coll, inputs, labels)
    coll.close()
    timings["total"] = time.perf_counter() - start
    return DemoReport(out, report, list(zip(codes, raw, strict=True)), quality, sheets, timings)
