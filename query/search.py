"""Answering queries against a collection: by image file, folder of images, or stored id.

A query is turned into the collection's model input, encoded with the collection's own
encoder, and looked up by Hamming distance; `baseline="raw"` answers the same query by
Euclidean distance on raw model-size pixels instead, in the same result format.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from indexer.collection import Collection
from indexer.pipeline import load_images
from indexer.strategies import StrategyParams
from query import baselines
from retrieval.errors import SemhashError
from retrieval.images import is_image_path, list_images

BASELINES = ("raw",)


@dataclass
class Hit:
    id: int
    path: str
    distance: float
    label: str
    title: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class QueryResult:
    query: str
    results: list[Hit]
    method: str = "hamming"

    def to_dict(self) -> dict:
        return {"query": self.query, "results": [h.to_dict() for h in self.results]}


@dataclass
class Queries:
    """Model-ready queries: names, inputs (N, ...) uint8, and files that could not be read."""

    names: list[str]
    inputs: np.ndarray
    skipped: list[tuple[str, str]] = field(default_factory=list)


def load_image_queries(coll: Collection, query: str | Path) -> Queries:
    """An image file or a folder of images, resized to the collection's model input."""
    query = Path(query)
    if not query.exists():
        raise SemhashError(f"{query} does not exist.")
    if coll.kind != "image":
        raise SemhashError(
            f"{coll.path} is a {coll.kind} collection; it cannot be searched with images."
        )
    paths = list_images(query) if query.is_dir() else [query]
    if query.is_file() and not is_image_path(query):
        raise SemhashError(f"{query} is not an image file (by its extension).")
    if not paths:
        raise SemhashError(f"no image files were found in {query}.")
    cfg = coll.encoder.config
    loaded, skipped = load_images(paths, cfg.image_size, cfg.channels)
    if query.is_file() and skipped:
        raise SemhashError(f"{query} cannot be read: {skipped[0][1]}.")
    return Queries([str(p) for p in loaded.paths], loaded.arrays, skipped)


def id_queries(coll: Collection, ids: list[int]) -> Queries:
    """Stored items as queries (their raw model input is kept in the collection)."""
    rows = coll.meta.get(ids)
    missing = [i for i in ids if i not in rows]
    if missing:
        raise SemhashError(f"id {missing[0]} is not in {coll.path}.")
    raw = coll.raw()
    shape = (len(ids), *_input_shape(coll))
    return Queries([rows[i].path for i in ids], np.asarray(raw[ids]).reshape(shape))


def _input_shape(coll: Collection) -> tuple[int, ...]:
    cfg = coll.encoder.config
    return (cfg.channels, cfg.image_size, cfg.image_size)


def search(
    coll: Collection, queries: Queries, k: int | None = 10, radius: int | None = None,
    baseline: str | None = None, strategy: str | None = None,
    params: StrategyParams | None = None,
) -> list[QueryResult]:  # fmt: skip
    """Nearest neighbours of each query: top-k, or all within `radius` (Hamming; at most k
    of them when k is given). `strategy` picks the index (flat, hash, ivf, hnsw; default by
    collection size), `params` its knobs."""
    if k is not None and k < 1:
        raise SemhashError("-k must be at least 1.")
    if not len(queries.names):
        return []
    if baseline is not None:
        if baseline not in BASELINES:
            raise SemhashError(
                f"unknown baseline {baseline!r}; choose one of {', '.join(BASELINES)}."
            )
        D, I = baselines.raw_l2(coll.raw(), queries.inputs, k or 10)
        pairs = list(zip(D, I, strict=True))
        method = "raw-l2"
    else:
        if radius is not None and strategy == "hnsw":
            raise SemhashError("--radius needs the flat, hash or ivf strategy, not hnsw.")
        index = coll.search_index(strategy, params)
        codes = coll.encoder.encode(queries.inputs)
        if radius is not None:
            pairs = [(d[:k], i[:k]) for d, i in index.range_search(codes, radius)]
        else:
            pairs = list(zip(*index.search(codes, k or 10), strict=True))
        method = "hamming"
    rows = coll.meta.get(np.unique(np.concatenate([i for _, i in pairs])))
    out = []
    for name, (dist, ids) in zip(queries.names, pairs, strict=True):
        hits = [
            Hit(int(i), rows[i].path, _num(d), rows[i].label, rows[i].title)
            for d, i in zip(dist, ids, strict=True) if int(i) in rows
        ]  # fmt: skip
        out.append(QueryResult(name, hits, method))
    return out


def _num(d) -> float | int:
    return int(d) if float(d).is_integer() else round(float(d), 4)
