"""The JSON API of browsing: items a page at a time, duplicate groups, outliers, and per
item its code, outlier rank, reconstruction, whole document and file.

Every number from the URL is range-checked here, before it reaches SQL, FAISS or torch
(a 422 with one sentence otherwise). A file is served only as an item of a served
collection, looked up by its id, never by a path from the request.
"""

from __future__ import annotations

import mimetypes
import os
import stat
from pathlib import Path as FsPath
from typing import Literal

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import FileResponse
from starlette.concurrency import run_in_threadpool

from semantic_hashing.retrieval.errors import SemhashError
from semantic_hashing.retrieval.params import MAX_ID
from semantic_hashing.server.state import NotFound, one_thread_per_query

router = APIRouter(prefix="/api")

MAX_OFFSET = 10_000_000
MAX_PAGE = 500
ItemId = Path(ge=0, le=MAX_ID, description="An item id.")
Offset = Query(0, ge=0, le=MAX_OFFSET, description="Items (or groups) to skip.")
Sort = Literal["id", "path", "added", "outlier"]
Order = Literal["asc", "desc"]
# what a browser shows inline; anything else is sent as a download
INLINE = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif",
          ".webp": "image/webp", ".bmp": "image/bmp"}  # fmt: skip
MAX_FILE = 512 * 1024 * 1024


def served(request: Request, name: str):
    return request.app.state.served.get(name)


async def in_thread(request: Request, fn, *args, **kwargs):
    """Run the model or index work of one request on a worker thread (one math thread)."""
    one = request.app.state.served.one_thread

    def call():
        if one:
            one_thread_per_query()
        return fn(*args, **kwargs)

    return await run_in_threadpool(call)


@router.get("/collections/{name}/items", summary="The items a page at a time, sorted")
async def items(request: Request, name: str, offset: int = Offset,
                limit: int = Query(60, ge=1, le=MAX_PAGE), sort: Sort = "id",
                order: Order = "asc") -> dict:  # fmt: skip
    """`sort`: id, path, added (date indexed) or outlier (score; every item's score is
    computed on first use and kept until the collection changes)."""
    coll = served(request, name)
    return await in_thread(request, coll.items_page, offset, limit, sort=sort,
                           descending=order == "desc")  # fmt: skip


@router.get("/collections/{name}/outliers", summary="Items by outlier score, worst first")
async def outliers(request: Request, name: str, offset: int = Offset,
                   limit: int = Query(60, ge=1, le=MAX_PAGE)) -> dict:  # fmt: skip
    """What `semhash outliers` lists, a page at a time, each with its score and its
    percentile in the collection."""
    coll = served(request, name)
    return await in_thread(request, coll.items_page, offset, limit, sort="outlier",
                           descending=True)  # fmt: skip


@router.get("/collections/{name}/duplicates", summary="Duplicate groups at a threshold")
async def duplicates(request: Request, name: str,
                     threshold: float | None = Query(None, ge=-1.0, le=1.0),
                     keep: Literal["first", "largest", "oldest"] = "first",
                     offset: int = Offset, limit: int = Query(20, ge=1, le=MAX_PAGE),
                     least: int = Query(12, ge=0, le=100)) -> dict:  # fmt: skip
    """The groups `semhash dedup --threshold T --keep K` finds (default threshold: the
    kind's), a page at a time, and the `least` similar pairs above the threshold."""
    coll = served(request, name)
    view = await in_thread(request, coll.duplicate_view, threshold=threshold, keep=keep,
                           offset=offset, limit=limit, least=least)  # fmt: skip
    return view.to_dict()


@router.get("/collections/{name}/items/{item_id}/code", summary="An item's binary code")
def code(request: Request, name: str, item_id: int = ItemId) -> dict:
    coll = served(request, name)
    coll.item(item_id)
    return {"id": item_id, "bits": coll.bits, "hex": coll.code(item_id)}


@router.get("/collections/{name}/items/{item_id}/outlier",
            summary="An item's outlier score and percentile")  # fmt: skip
async def outlier(request: Request, name: str, item_id: int = ItemId) -> dict:
    coll = served(request, name)
    coll.item(item_id)
    return {"id": item_id, **await in_thread(request, coll.outlier_rank, item_id)}


@router.get("/collections/{name}/items/{item_id}/reconstruction",
            summary="What the model makes of an item")  # fmt: skip
async def reconstruction(request: Request, name: str, item_id: int = ItemId) -> dict:
    """The reconstruction error; text: the top words of the document, of its corrupted
    copy and of both reconstructions (`semhash reconstruct --json`)."""
    coll = served(request, name)
    coll.item(item_id)
    rec = (await in_thread(request, coll.reconstruct, [item_id]))[0]
    return rec.to_dict()


@router.get("/collections/{name}/items/{item_id}/reconstruction.png",
            summary="An image item beside its reconstructions (PNG)", response_class=Response,
            responses={200: {"content": {"image/png": {}}}})  # fmt: skip
async def reconstruction_png(request: Request, name: str, item_id: int = ItemId,
                             size: int = Query(112, ge=16, le=256)) -> Response:  # fmt: skip
    """Input, corrupted copy, reconstruction from the corrupted copy, reconstruction from
    the input, each `size` pixels a side."""
    from semantic_hashing.query.browse import reconstruction_strip

    coll = served(request, name)
    coll.item(item_id)
    if coll.input_kind.word_counts:
        raise SemhashError("a text item's reconstruction is words: ask for /reconstruction.")
    coll.input_kind.check_sheet("reconstruction")  # a features model's cannot be drawn
    rec = (await in_thread(request, coll.reconstruct, [item_id]))[0]
    return Response(reconstruction_strip(rec, size), media_type="image/png",
                    headers={"Cache-Control": "no-cache"})  # fmt: skip


@router.get("/collections/{name}/items/{item_id}/document", summary="A text item, whole")
def document(request: Request, name: str, item_id: int = ItemId) -> dict:
    coll = served(request, name)
    coll.item(item_id)
    return {"id": item_id, **coll.document(item_id)}


def servable(path: str) -> bool:
    """Whether the file of an item can be sent: a regular file (not a link), not huge."""
    try:
        st = os.lstat(path)
    except OSError:
        return False
    return stat.S_ISREG(st.st_mode) and st.st_size <= MAX_FILE


@router.get("/collections/{name}/items/{item_id}/file", summary="An item's own file",
            response_class=Response)  # fmt: skip
def file(request: Request, name: str, item_id: int = ItemId) -> Response:
    """The file indexed as this item (found by its id; a link or a file that is gone is
    not sent). Images a browser shows are sent inline, text as plain text, anything else
    as a download; never run as a page (sandboxed)."""
    coll = served(request, name)
    path = coll.item(item_id)["path"]
    if not servable(path):
        raise NotFound(f"the file of item {item_id} is gone or is not a regular file.")
    suffix = FsPath(path).suffix.lower()
    headers = {"Content-Security-Policy": "sandbox; default-src 'none'; img-src 'self'",
               "X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache"}  # fmt: skip
    if suffix in INLINE:
        return FileResponse(path, media_type=INLINE[suffix], headers=headers)
    if coll.input_kind.word_counts:
        return FileResponse(path, media_type="text/plain; charset=utf-8", headers=headers)
    kind = mimetypes.guess_type(path)[0] or "application/octet-stream"
    return FileResponse(path, media_type=kind, headers=headers, filename=FsPath(path).name,
                        content_disposition_type="attachment")  # fmt: skip
