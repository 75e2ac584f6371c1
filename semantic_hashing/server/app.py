"""The FastAPI app of `semhash serve`: the page at `/`, the JSON API under `/api`.

Every collection is opened once, read-only, through the public API (`semhash.open`) and
checked for a newer committed state before each request (`Collection.refresh()`), so an
`index` run into a served collection is picked up when it has finished and never seen
half done. User mistakes become a 4xx with one sentence in `{"detail": ...}`.
"""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException

from semantic_hashing.retrieval.errors import OptionError, SemhashError
from semantic_hashing.server.state import (
    NotFound,
    Served,
    one_thread_per_query,
    validation_sentence,
)

log = logging.getLogger(__name__)
HERE = Path(__file__).parent


def create_app(paths, one_thread: bool = False) -> FastAPI:
    """The app serving the collections at `paths` (each must open, else SemhashError);
    `one_thread`: each query's math on one thread (what `semhash serve` does)."""
    from semantic_hashing.server import routes

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
    _error_handlers(app)
    app.include_router(routes.router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    templates = Jinja2Templates(directory=HERE / "templates")

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def page(request: Request, c: str | None = None):
        name = c if c in served.collections else next(iter(served.collections))
        coll = served.get(name)
        return templates.TemplateResponse(
            request, "index.html",
            {"names": list(served.collections), "name": name, "info": routes.describe(name, coll),
             "kind": coll.input_kind, "default_k": routes.DEFAULT_K},
        )  # fmt: skip

    return app


def _error_handlers(app: FastAPI) -> None:
    def sentence(status: int, text: str) -> JSONResponse:
        return JSONResponse({"detail": text}, status_code=status)

    @app.exception_handler(NotFound)
    async def not_found(request, exc):
        return sentence(404, str(exc))

    @app.exception_handler(SemhashError)
    async def user_mistake(request, exc):
        return sentence(400, str(exc))

    @app.exception_handler(OptionError)
    async def bad_option(request, exc):  # a value no collection takes: the request is invalid
        if exc.anywhere:
            return sentence(422, f"{exc.option}: {exc}")
        return sentence(400, str(exc))

    @app.exception_handler(RequestValidationError)
    async def invalid(request, exc):
        return sentence(422, validation_sentence(exc.errors()))

    @app.exception_handler(HTTPException)
    async def http_error(request, exc):
        text = exc.detail if isinstance(exc.detail, str) else "the request was not understood."
        return sentence(exc.status_code, text)

    @app.exception_handler(OSError)
    async def busy(request, exc):  # e.g. a file `index` replaced between two reads
        log.warning("%s %s: %s", request.method, request.url.path, exc)
        return sentence(503, "the collection could not be read just now; try again.")

    @app.exception_handler(Exception)
    async def bug(request, exc):
        log.exception("%s %s failed", request.method, request.url.path)
        return sentence(500, f"internal error ({type(exc).__name__}); see the server's log.")
