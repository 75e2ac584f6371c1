"""What the app and its routes share: the served collections, the 404 error, the thread
setting of each query and the sentence made of a validation error."""

from __future__ import annotations

from semantic_hashing.retrieval.errors import SemhashError


class NotFound(SemhashError):
    """An unknown collection or item: a 404."""


class Served:
    """The opened collections by name (the folder name without `.semhash`)."""

    def __init__(self, paths):
        from semantic_hashing.query import api

        if not paths:
            raise SemhashError("give at least one collection to serve.")
        self.collections: dict = {}
        self.one_thread = False
        try:
            for path in paths:
                coll = api.open(path, save_derived=False)  # serve writes nothing
                name, n = coll.name, 2
                while name in self.collections:  # two folders of one name: tell them apart
                    name, n = f"{coll.name}-{n}", n + 1
                self.collections[name] = coll
        except BaseException:
            self.close()
            raise

    def get(self, name: str, refresh: bool = True):
        """The collection called `name`, reopened first if `index` has changed it."""
        coll = self.collections.get(name)
        if coll is None:
            known = ", ".join(self.collections)
            raise NotFound(f"there is no collection named {name!r} here (served: {known}).")
        if refresh:
            coll.refresh()
        return coll

    def close(self) -> None:
        for coll in self.collections.values():
            coll.close()


def one_thread_per_query() -> None:
    """Queries come one at a time (the collection's lock): torch's and FAISS's thread pools
    only add hand-over costs, and on a busy machine their spinning threads cost far more
    (measured on the 2-core machine under load: encoding one image 57 ms -> 0.9 ms). The
    OpenMP setting belongs to the calling thread, so each worker thread calls this."""
    import faiss
    import torch

    if torch.get_num_threads() != 1:
        torch.set_num_threads(1)
    faiss.omp_set_num_threads(1)


def validation_sentence(errors) -> str:
    """The first of pydantic's errors as one sentence: `k: Input should be ...`."""
    if not errors:
        return "the request is not valid."
    err = errors[0]
    where = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path")]
    msg = str(err.get("msg", "is not valid")).removeprefix("Value error, ")
    return f"{'.'.join(where) + ': ' if where else ''}{msg}."
