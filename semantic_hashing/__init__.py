"""semantic_hashing: "more like this" search over images and documents with semantic hashing.

    import semantic_hashing as sh

    sh.index("photos/", "photos.semhash")          # train, encode, store
    with sh.open("photos.semhash") as coll:        # search it
        print(coll.search("query.jpg", k=10).results[0].path)

The learning core is `semantic_hashing.retrieval`, the store `semantic_hashing.indexer`, the
answers `semantic_hashing.query`; this package holds the public API below and the shells
above them (`semantic_hashing.cli`, the command line; `semantic_hashing.server`, the web
page and JSON API). Names are imported on first use, so `import semantic_hashing` (and every
`semhash` command) stays fast and pays for torch only when a model is needed.
"""

from __future__ import annotations

import importlib

from semantic_hashing.retrieval import __version__

# Every public name and the module that defines it: the one list of the public surface.
_WHERE = {
    "index": "semantic_hashing.indexer.api",
    "train": "semantic_hashing.indexer.api",
    "remove": "semantic_hashing.indexer.api",
    "check": "semantic_hashing.indexer.api",
    "IndexReport": "semantic_hashing.indexer.pipeline",
    "open": "semantic_hashing.query.api",
    "Collection": "semantic_hashing.query.api",
    "StrategyParams": "semantic_hashing.indexer.strategies",
    "SearchOptions": "semantic_hashing.query.options",
    "Batch": "semantic_hashing.query.results",
    "Hit": "semantic_hashing.query.results",
    "QueryResult": "semantic_hashing.query.results",
    "DuplicateGroup": "semantic_hashing.query.dedup",
    "Outlier": "semantic_hashing.query.outliers",
    "Reconstruction": "semantic_hashing.query.reconstruct",
    "SemhashError": "semantic_hashing.retrieval.errors",
    "set_progress": "semantic_hashing.retrieval.progress",
}
__all__ = ["__version__", *sorted(_WHERE)]


def __getattr__(name: str):
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'semantic_hashing' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
