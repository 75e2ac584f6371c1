"""Data for `semhash bench`: a database, seeded queries, integer labels; one loader each.

Protocol: the database is the training split (or the folder), the queries are a seeded
sample of the test split, `np.random.default_rng(seed).choice(n_test, queries,
replace=False)`; relevant means same label. A folder without `train/` and `test/` holds out
a seeded sample of `queries` items as queries and keeps the rest as the database. The label
of a file is its parent folder (relative to the split root).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from semantic_hashing.retrieval import datasets
from semantic_hashing.retrieval.errors import SemhashError
from semantic_hashing.retrieval.images import list_images, sniff_channels
from semantic_hashing.retrieval.kinds import Loaded, get_kind

log = logging.getLogger(__name__)


@dataclass
class BenchData:
    """`kind` is "image" (uint8 (N, C, S, S) inputs), "text" (count vectors (N, vocab)) or
    "features" (the rows a features collection stores, `bench.features`); labels index
    into `names`."""

    kind: str
    db_inputs: np.ndarray
    db_labels: np.ndarray
    q_inputs: np.ndarray
    q_labels: np.ndarray
    names: list[str]
    vocab: list[str] | None = None  # text: the words of the count columns
    backbone: dict | None = None  # features: the fingerprint of the backbone of the rows
    features: BenchData | None = None  # images: the same items through a backbone


def sample_queries(n: int, queries: int, seed: int) -> np.ndarray:
    """The protocol's query rows: a seeded sample without replacement."""
    if not 1 <= queries <= n:
        raise SemhashError(f"--queries must be between 1 and {n} here, not {queries}.")
    return np.random.default_rng(seed).choice(n, queries, replace=False)


def fashion_mnist(queries: int, seed: int) -> BenchData:
    train, test = datasets.load_fashion_mnist("train"), datasets.load_fashion_mnist("test")
    picks = sample_queries(len(test.images), queries, seed)
    return BenchData("image", train.images, train.labels, test.images[picks],
                     test.labels[picks], list(train.classes))  # fmt: skip


def cifar10(queries: int, seed: int) -> BenchData:
    return image_folder(datasets.cifar10_folder(), queries, seed)


QUERY_TEXTS = ("post", "subject")


def newsgroups(queries: int, seed: int, vocab_size: int = 10_000, vocab_by: str = "count",
               query_text: str = "post") -> BenchData:  # fmt: skip
    """The project's fixed 20 Newsgroups split (`retrieval.datasets.newsgroups_split`):
    word counts over a vocabulary built from the database posts only (`vocab_size` words
    ranked by `vocab_by`, see `Vocabulary.build`); codes and TF-IDF both use it.

    `query_text` "subject" is the typed-query protocol: each query post's `Subject:` line
    alone (leading `Re:` dropped) is the query; queries without a vocabulary word are left
    out (the protocol reports how many remain)."""
    from semantic_hashing.retrieval.text import Vocabulary, list_documents, read_document

    if query_text not in QUERY_TEXTS:
        raise SemhashError(f"--query-text must be one of {', '.join(QUERY_TEXTS)}.")
    root = datasets.newsgroups_split(queries, seed)
    parts = {}
    for part in ("db", "queries"):
        paths = list_documents(root / part)
        docs = [read_document(p) for p in paths]
        texts = [d.text for d in docs] if part == "db" or query_text == "post" else [
            SUBJECT_PREFIX.sub("", d.title) for d in docs]  # fmt: skip
        parts[part] = (texts, [p.parent.name for p in paths])
    vocab = Vocabulary.build(parts["db"][0], vocab_size, by=vocab_by)
    names = sorted(set(parts["db"][1]))
    label = {n: i for i, n in enumerate(names)}
    db, q = (vocab.counts(parts[p][0]) for p in ("db", "queries"))
    q_labels = np.array([label[x] for x in parts["queries"][1]])
    if query_text == "subject":
        keep = np.flatnonzero(q.getnnz(axis=1) > 0)
        q, q_labels = q[keep], q_labels[keep]
    data = BenchData("text", db, np.array([label[x] for x in parts["db"][1]]), q, q_labels,
                     names)  # fmt: skip
    data.vocab = vocab.words
    return data


SUBJECT_PREFIX = re.compile(r"^(\s*re\s*:\s*)+", re.IGNORECASE)


def _labelled_paths(root: Path) -> tuple[list[Path], list[str]]:
    paths = list_images(root)
    if not paths:
        raise SemhashError(f"no image files were found in {root}.")
    return paths, [str(p.parent.relative_to(root)) for p in paths]


def read_images(paths: list[Path], size: int, channels: int, show: bool = True,
                workers: int | None = None) -> Loaded:  # fmt: skip
    """Decode `paths` to (N, channels, size, size) uint8 on every core; unreadable files
    are skipped with their reason."""
    from functools import partial

    from semantic_hashing.retrieval.images import UnreadableImage, load_image
    from semantic_hashing.retrieval.pool import read_in_order, resolve_workers
    from semantic_hashing.retrieval.progress import progress

    read = partial(load_image, size=size, channels=channels)
    results = read_in_order(read, paths, UnreadableImage, resolve_workers(workers))
    ok, done, skipped = [], [], []
    for path, res in zip(paths, progress(results, show, total=len(paths), desc="reading",
                                         unit="file"), strict=True):  # fmt: skip
        if isinstance(res, UnreadableImage):
            skipped.append((str(path), str(res)))
        else:
            ok.append(path)
            done.append(res)
    loaded = get_kind("image").collect(ok, done, skipped)
    if not done:
        loaded.items = np.zeros((0, channels, size, size), dtype=np.uint8)
    return loaded


def _load(paths: list[Path], labels: list[str], size: int, channels: int):
    """Decode `paths`; unreadable files are skipped (and logged by the loader)."""
    loaded = read_images(paths, size, channels)
    if loaded.skipped:
        path, reason = loaded.skipped[0]
        log.warning("%d unreadable files skipped (first: %s: %s)", len(loaded.skipped), path,
                    reason)  # fmt: skip
    label_of = dict(zip(paths, labels, strict=True))
    return loaded.items, [label_of[p] for p in loaded.paths]


def image_folder(root: str | Path, queries: int, seed: int) -> BenchData:
    """A folder of images: `train/` and `test/` splits if present, else a seeded holdout."""
    root = Path(root)
    if not root.is_dir():
        raise SemhashError(f"{root} is neither a known data set nor a folder.")
    split = (root / "train").is_dir() and (root / "test").is_dir()
    db_paths, db_labels = _labelled_paths(root / "train" if split else root)
    channels = sniff_channels(db_paths)
    size = 28 if channels == 1 else 32
    if split:
        q_paths, q_labels = _labelled_paths(root / "test")
        picks = sample_queries(len(q_paths), queries, seed)
        db, db_labels = _load(db_paths, db_labels, size, channels)
        q, q_labels = _load([q_paths[i] for i in picks], [q_labels[i] for i in picks],
                            size, channels)  # fmt: skip
    else:
        arrays, labels = _load(db_paths, db_labels, size, channels)
        if queries >= len(arrays):
            raise SemhashError(f"--queries {queries} leaves no database in {root} "
                               f"({len(arrays)} readable images).")  # fmt: skip
        picks = sample_queries(len(arrays), queries, seed)
        keep = np.setdiff1d(np.arange(len(arrays)), picks)
        q, q_labels = arrays[picks], [labels[i] for i in picks]
        db, db_labels = arrays[keep], [labels[i] for i in keep]
    names = sorted(set(db_labels) | set(q_labels))
    if len(names) < 2:
        raise SemhashError(f"{root} needs images in at least two class folders.")
    index = {name: i for i, name in enumerate(names)}
    db_ints, q_ints = ([index[x] for x in xs] for xs in (db_labels, q_labels))
    return BenchData("image", db, np.array(db_ints), q, np.array(q_ints), names)


TEXT_LOADERS = {"20news"}  # these also take vocab_size, vocab_by and query_text
LOADERS: dict[str, Callable[..., BenchData]] = {
    "fashion-mnist": fashion_mnist,
    "cifar10": cifar10,
    "20news": newsgroups,
}


def subset_database(data: BenchData, size: int, seed: int) -> BenchData:
    """The same queries against a seeded sample of `size` database items (in database
    order): `np.random.default_rng(seed + 1).choice(n, size, replace=False)`, sorted."""
    n = len(data.db_labels)
    if not 2 <= size <= n:
        raise SemhashError(f"--db-size must be between 2 and {n} here, not {size}.")
    rows = np.sort(np.random.default_rng(seed + 1).choice(n, size, replace=False))
    return replace(data, db_inputs=data.db_inputs[rows], db_labels=data.db_labels[rows])


def load_bench_data(dataset: str, queries: int = 1000, seed: int = 0, db_size: int = 0,
                    vocab_size: int = 10_000, vocab_by: str = "count",
                    query_text: str = "post") -> BenchData:  # fmt: skip
    """A named data set (see `LOADERS`) or a folder path; `db_size` > 0 keeps a seeded
    sample of that many database items (the text vocabulary stays the full database's)."""
    loader = LOADERS.get(dataset)
    if dataset in TEXT_LOADERS:
        data = loader(queries, seed, vocab_size=vocab_size, vocab_by=vocab_by,
                      query_text=query_text)  # fmt: skip
    else:
        data = loader(queries, seed) if loader else image_folder(dataset, queries, seed)
    if db_size:
        data = subset_database(data, db_size, seed)
    log.info("%s: %d database items, %d queries, %d labels", dataset, len(data.db_labels),
             len(data.q_labels), len(data.names))  # fmt: skip
    return data
