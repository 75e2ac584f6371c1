"""The JSON API: collections, their info, search (an uploaded image, text, or a stored id),
items and their thumbnails. Results are the objects `semhash search --json` prints."""

from __future__ import annotations

import json
from typing import Literal

from fastapi import APIRouter, Path, Request, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import FormParser, MultiPartException, MultiPartParser

from semantic_hashing.indexer.strategies import STRATEGIES
from semantic_hashing.query.options import BASELINES, DEFAULT_K, SearchOptions
from semantic_hashing.retrieval.errors import SemhashError
from semantic_hashing.retrieval.params import MAX_ID
from semantic_hashing.server.state import one_thread_per_query, validation_sentence

router = APIRouter(prefix="/api")
MAX_UPLOAD = 20 * 1024 * 1024  # bytes of one search request (the image and its fields)
# Neighbours one response may hold: a page of results, each drawn with its thumbnail by the
# web page, each costing the server a metadata row. The library and the command line allow
# up to MAX_K (query/options.py); a web client asking for more is refused.
MAX_PAGE = 1000
IMAGE_FIELD = "image"  # the multipart field of an uploaded query image


class SearchRequest(BaseModel):
    """One query (exactly one of `text` or `id`, or an image uploaded as multipart field
    `image`) and how to answer it."""

    model_config = ConfigDict(extra="forbid")
    text: str | None = Field(None, max_length=100_000, description="Typed text (text collections).")
    id: int | None = Field(None, ge=0, le=MAX_ID, description="A stored item to search with.")
    k: int = Field(DEFAULT_K, le=MAX_PAGE, description="Number of neighbours.")
    offset: int = Field(
        0,
        ge=0,
        lt=MAX_PAGE,
        description="Results to skip (paging): the "
        f"answer holds ranks offset+1 to offset+k; offset+k at most {MAX_PAGE}.",
    )
    radius: int | None = Field(None, description="All within this Hamming distance.")
    baseline: Literal[BASELINES] | None = Field(
        None, description="Answer by raw data, or a backbone's float features, instead."
    )
    strategy: Literal[tuple(STRATEGIES)] | None = None  # the registered strategies
    asymmetric: bool = Field(False, description="Re-rank the Hamming shortlist by the distance "
                             "of the unquantised query to each stored code.")  # fmt: skip

    @model_validator(mode="after")
    def _deep_enough(self):
        if self.offset + self.k > MAX_PAGE:
            raise ValueError(f"offset + k must be at most {MAX_PAGE}, not {self.offset + self.k}")
        return self


SEARCH_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": SearchRequest.model_json_schema()},
            "multipart/form-data": {"schema": {
                "type": "object",
                "properties": {"image": {"type": "string", "format": "binary"},
                               **SearchRequest.model_json_schema()["properties"]},
            }},
        },
    }
}  # fmt: skip


def describe(name: str, coll) -> dict:
    """A collection's info as the page and `GET /api/collections/{name}` show it."""
    from semantic_hashing.indexer.strategies import default_strategy

    info = coll.info()
    model = info.get("model", {})
    return {
        "name": name, "kind": coll.kind, "bits": coll.bits, "items": info["items"],
        "labels": info["labels"], "model_type": info.get("model_type"),
        "model_fingerprint": info.get("model_fingerprint"),
        "backend": coll.store.backend, "default_strategy": default_strategy(len(coll)),
        **coll.input_kind.page_fields(model),
        "pictures": coll.input_kind.takes_images,  # items shown as pictures, image queries
        "baseline": coll.input_kind.page_baseline,
        "baseline_caption": coll.input_kind.baselines[coll.input_kind.page_baseline][2],
        "updated_at": info.get("updated_at"), "info": info,
    }  # fmt: skip


def _served(request: Request, name: str):
    return request.app.state.served.get(name)


@router.get("/collections", summary="The served collections")
def collections(request: Request) -> list[dict]:
    served = request.app.state.served
    return [describe(name, served.get(name)) for name in served.collections]


@router.get("/collections/{name}", summary="Kind, code length, model, counts, strategy")
def collection(request: Request, name: str) -> dict:
    return describe(name, _served(request, name))


@router.get("/collections/{name}/items/{item_id}", summary="One item's metadata")
def item(request: Request, name: str, item_id: int = Path(ge=0, le=MAX_ID)) -> dict:
    coll = _served(request, name)
    row = coll.item(item_id)
    if coll.input_kind.previews:
        row["preview"] = coll.preview(item_id)
    return row


@router.get(
    "/collections/{name}/items/{item_id}/thumbnail",
    summary="A PNG of one item (by id only)",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}}},
)
def thumbnail(request: Request, name: str, item_id: int = Path(ge=0, le=MAX_ID),
              size: int = 128) -> Response:  # fmt: skip
    coll = _served(request, name)
    coll.item(item_id)
    data = coll.thumbnail(item_id, size)
    return Response(data, media_type="image/png", headers={"Cache-Control": "no-cache"})


@router.post("/collections/{name}/search", summary="Neighbours of one query",
             openapi_extra=SEARCH_BODY)  # fmt: skip
async def search(request: Request, name: str) -> dict:
    """JSON `{"text" | "id", "k", "radius", "baseline", "strategy", "asymmetric"}`, or
    multipart with the image file as `image` and the same fields."""
    fields, image = await _read_query(request)
    try:
        query = SearchRequest(**fields)
    except ValidationError as exc:
        raise HTTPException(422, validation_sentence(exc.errors())) from None
    given = [image is not None, query.text is not None, query.id is not None]
    if sum(given) != 1:
        raise SemhashError("give exactly one query: an image, a text or an id.")
    # one hand-over to a worker thread per search: on a busy machine each costs a wake-up
    served = request.app.state.served
    return await run_in_threadpool(_search, served, served.get(name, False), image, query)


def _search(served, coll, image: bytes | None, query: SearchRequest) -> dict:
    if served.one_thread:
        one_thread_per_query()  # in each worker thread: OpenMP settings are per thread
    coll.refresh()  # an id the collection lacks: UnknownItem, a 404
    how = SearchOptions(k=query.k + query.offset, radius=query.radius, baseline=query.baseline,
                        strategy=query.strategy, asymmetric=query.asymmetric)  # fmt: skip
    result = coll.search(image, text=query.text, id=query.id, options=how)
    result.results = result.results[query.offset :]
    return {**result.to_dict(), "method": result.method, "offset": query.offset}


async def _read_query(request: Request) -> tuple[dict, bytes | None]:
    """(fields, image bytes or None) from a JSON or multipart body of at most MAX_UPLOAD
    bytes; a bigger one is refused before it is read to the end."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_UPLOAD:
        raise HTTPException(413, f"the request is larger than {MAX_UPLOAD // 2**20} MB.")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_UPLOAD:
            raise HTTPException(413, f"the request is larger than {MAX_UPLOAD // 2**20} MB.")
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind in ("multipart/form-data", "application/x-www-form-urlencoded"):
        return await _form(request, bytes(body), kind)
    if kind in ("application/json", ""):
        try:
            fields = json.loads(body or b"{}")
        except ValueError:
            raise HTTPException(400, "the request body is not valid JSON.") from None
        if not isinstance(fields, dict):
            raise HTTPException(400, "the request body must be a JSON object.")
        return fields, None
    raise HTTPException(415, "send JSON, or multipart/form-data with the image as 'image'.")


async def _form(request: Request, body: bytes, kind: str) -> tuple[dict, bytes | None]:
    async def stream():
        yield body

    try:
        if kind == "application/x-www-form-urlencoded":
            form = await FormParser(request.headers, stream()).parse()
        else:
            form = await MultiPartParser(request.headers, stream(), max_files=1, max_fields=20,
                                         max_part_size=MAX_UPLOAD).parse()  # fmt: skip
    except MultiPartException as exc:
        raise HTTPException(400, f"the upload is not valid form data ({exc.message}).") from None
    fields, image = {}, None
    for key, value in form.multi_items():
        if isinstance(value, UploadFile):
            if key != IMAGE_FIELD:
                raise HTTPException(400, f"upload the image as field 'image', not {key!r}.")
            image = await value.read()
            await value.close()
            if not image:
                raise HTTPException(400, "the uploaded image is empty.")
        elif value != "":  # an empty form field means 'not given'
            fields[key] = value
    return fields, image
