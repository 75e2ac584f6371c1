"""semhash: "more like this" search over images and documents with semantic hashing.

The public Python API lives in `query.api` and is re-exported here; this package also holds
the shells above the three layers (`semhash.cli`, the command line; `semhash.server`, the
web page and JSON API). Names are imported on first use, so `import semhash` (and every
`semhash` command) stays fast and pays for torch only when a model is needed.
"""

from __future__ import annotations

import importlib

from semantic_hashing.retrieval import __version__

__all__ = [
    "__version__", "Batch", "Collection", "DuplicateGroup", "Hit", "IndexReport", "Outlier",
    "QueryResult", "Reconstruction", "SemhashError", "StrategyParams", "check", "index", "open",
    "remove", "train",
]  # fmt: skip


def __getattr__(name: str):
    if name in __all__[1:]:
        return getattr(importlib.import_module("semantic_hashing.query.api"), name)
    raise AttributeError(f"module 'semhash' has no attribute {name!r}")
