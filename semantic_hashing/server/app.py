"""The FastAPI app of `semhash serve`: the pages under `/c/NAME`, the JSON API under `/api`.

Every collection is opened once, read-only, through the public API (`semhash.open`) and
checked for a newer committed state before each request (`Collection.refresh()`), so an
`index` run into a served collection is picked up when it has finished and never seen
half done. User mistakes become a 4xx with one sentence in `{"detail": ...}` (a page:
the sentence on an error page); a metadata database or Milvus server that does not
answer, a 503; a client that hangs up mid-request, one log line.
"""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect

from semantic_hashing.retrieval.errors import OptionError, SemhashError, Unavailable, UnknownItem
from semantic_hashing.server.state import (
    AllowedHosts,
    NotFound,
    Served,
    one_thread_per_query,
    validation_sentence,
)

log = logging.getLogger(__name__)
HERE = Path(__file__).parent


def create_app(paths, one_thread: bool = False, allowed_hosts=None) -> FastAPI:
    """The app serving the collections at `paths` (each must open, else SemhashError);
    `one_thread`: each query's math on one thread (what `semhash serve` does);
    `allowed_hosts`: the Host headers answered (others get a 400; None: any)."""
    from semantic_hashing.server import browse, routes, views

    served = Served(paths)
    served.one_thread = one_thread
    if one_thread:
        one_thread_per_query()

    @asynccontextmanager
    async def lifespan(app):
        yield
        served.close()

    app = FastAPI(title="semhash", summary="Search collections by example (semantic hashing).",
                  lifespan=lifespan)  # fmt: skip
    app.state.served = served
    _error_handlers(app, views.error_page)
    app.include_router(routes.router)
    app.include_router(browse.router)
    app.include_router(views.router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    if allowed_hosts is not None:
        app.add_middleware(AllowedHosts, hosts=list(allowed_hosts))
    return app


def _error_handlers(app: FastAPI, page) -> None:
    def sentence(request, status: int, text: str):
        """JSON for the API; a page's request gets the sentence as an error page."""
        try:
            shown = page(request, status, text)
        except Exception:  # the error page itself failed: the sentence as JSON still
            log.exception("the error page of %s failed", request.url.path)
            shown = None
        return shown if shown is not None else JSONResponse({"detail": text}, status_code=status)

    @app.exception_handler(NotFound)
    @app.exception_handler(UnknownItem)
    async def not_found(request, exc):
        return sentence(request, 404, str(exc))

    @app.exception_handler(Unavailable)
    async def unavailable(request, exc):  # a database or Milvus server that does not answer
        log.warning("%s %s: %s", request.method, request.url.path, exc)
        return sentence(request, 503, str(exc))

    @app.exception_handler(SemhashError)
    async def user_mistake(request, exc):
        return sentence(request, 400, str(exc))

    @app.exception_handler(OptionError)
    async def bad_option(request, exc):  # a value no collection takes: the request is invalid
        if exc.anywhere:
            return sentence(request, 422, f"{exc.option}: {exc}")
        return sentence(request, 400, str(exc))

    @app.exception_handler(RequestValidationError)
    async def invalid(request, exc):
        return sentence(request, 422, validation_sentence(exc.errors()))

    @app.exception_handler(HTTPException)
    async def http_error(request, exc):
        text = exc.detail if isinstance(exc.detail, str) else "the request was not understood."
        return sentence(request, exc.status_code, text)

    @app.exception_handler(ClientDisconnect)
    async def gone(request, exc):  # nobody is left to answer: one line, no traceback
        log.info("%s %s: the client closed the connection before sending the whole request",
                 request.method, request.url.path)  # fmt: skip
        return JSONResponse({"detail": "the request was not sent whole."}, status_code=400)

    @app.exception_handler(OSError)
    async def busy(request, exc):  # e.g. a file `index` replaced between two reads
        log.warning("%s %s: %s", request.method, request.url.path, exc)
        return sentence(request, 503, "the collection could not be read just now; try again.")

    @app.exception_handler(Exception)
    async def bug(request, exc):
        log.exception("%s %s failed", request.method, request.url.path)
        text = f"internal error ({type(exc).__name__}); see the server's log."
        return sentence(request, 500, text)
