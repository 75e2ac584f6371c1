"""Outliers: the items the collection's own autoencoder reconstructs worst.

An autoencoder trained on a collection learns what its items have in common; an item unlike
the rest (a photo among drawings, a foreign image, a garbled post) comes back worst. Scores
are computed on demand from the stored model inputs (raw/), in batches.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from semantic_hashing.indexer.store import Store
from semantic_hashing.query.reconstruct import reconstruction_errors, stored_inputs


@dataclass
class Outlier:
    rank: int
    id: int
    path: str
    score: float  # reconstruction error (higher = less like the rest)
    label: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


def outlier_scores(store: Store, metric: str = "loss",
                   show: bool = True) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """(ids ascending, reconstruction error of each) over every live item of `store`."""
    ids = np.array(sorted(store.meta.labels()), dtype=np.int64)
    inputs = stored_inputs(store, ids)
    return ids, reconstruction_errors(store.encoder, inputs, metric, show=show)


def find_outliers(store: Store, top: int = 20, metric: str = "loss") -> list[Outlier]:
    """The `top` items with the largest reconstruction error, worst first (ties by id)."""
    from semantic_hashing.retrieval.errors import SemhashError

    if top < 1:
        raise SemhashError("--top must be at least 1.")
    ids, scores = outlier_scores(store, metric)
    order = np.lexsort((ids, -scores))[:top]
    rows = store.meta.get(ids[order].tolist())
    return [Outlier(rank, int(ids[j]), rows[int(ids[j])].path, round(float(scores[j]), 4),
                    rows[int(ids[j])].label)
            for rank, j in enumerate(order, 1)]  # fmt: skip
