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
        self.panels: dict = {}  # name -> (the store it describes, its info panel): the pages'
        self.warming: dict = {}  # (name, part) -> the thread computing it (server/views.py)
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


class AllowedHosts:
    """ASGI middleware answering only requests whose Host header names one of `hosts`
    (a name, an address, `*.example.org`, or `*` for any): a page reached through a
    foreign name (DNS rebinding) gets a 400 with one sentence, and the header is never
    echoed. IPv6 hosts work with or without brackets."""

    def __init__(self, app, hosts):
        self.app = app
        names = {h.strip().lower().strip("[]") for h in hosts if h.strip()}
        self.any = "*" in names
        self.exact = {h for h in names if not h.startswith("*.")}
        self.suffixes = tuple(h[1:] for h in names if h.startswith("*."))

    def allows(self, header: str) -> bool:
        if self.any:
            return True
        header = header.strip().lower()
        if header.startswith("["):  # [::1]:8000
            name = header[1 : header.find("]")] if "]" in header else ""
        elif header.count(":") == 1:  # name:port
            name = header.split(":")[0]
        else:  # a bare name, or a bare IPv6 address
            name = header
        return name in self.exact or (bool(self.suffixes) and name.endswith(self.suffixes))

    async def __call__(self, scope, receive, send):
        if scope["type"] in ("http", "websocket"):
            host = dict(scope.get("headers") or []).get(b"host", b"").decode("latin-1")
            if not self.allows(host):
                from starlette.responses import JSONResponse

                text = ("this server answers only for the host names it was started with "
                        "(semhash serve --allowed-hosts).")  # fmt: skip
                await JSONResponse({"detail": text}, status_code=400)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def default_hosts(host: str) -> list[str]:
    """The Host names answered unless --allowed-hosts says otherwise: the bound address
    and this machine's loopback names."""
    return list(dict.fromkeys([host, "localhost", "127.0.0.1", "::1"]))
