"""semhash: content-based retrieval with semantic hashing.

`retrieval` is the learning core: data sets, autoencoders, training, binary codes and
metrics. It imports neither `indexer` nor `query`; only the shells in `semhash/` (command
line, web server) sit above all three.
Heavy libraries (torch, faiss) are imported lazily by the submodules that need them.
"""

__version__ = "0.1.0"

from semantic_hashing.retrieval.errors import SemhashError

__all__ = ["SemhashError", "__version__"]
