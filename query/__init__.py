"""`query` answers: search, baselines, rendering, evaluation, benchmarks.

Its public face is `query.api`, re-exported here and by the top package `semhash`.
"""

from semantic_hashing.query import api
from semantic_hashing.query.api import (
    Batch,
    Collection,
    Hit,
    QueryResult,
    SemhashError,
    StrategyParams,
    check,
    index,
    open,
    remove,
    train,
)

__all__ = [
    "Batch", "Collection", "DuplicateGroup", "Hit", "IndexReport", "Outlier", "QueryResult",
    "Reconstruction", "SemhashError", "StrategyParams", "check", "index", "open", "remove",
    "train",
]  # fmt: skip


def __getattr__(name: str):
    return getattr(api, name)
