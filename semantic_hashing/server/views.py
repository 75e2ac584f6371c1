"""The pages of `semhash serve`: one workspace per collection, every view at its own URL.

    /c/NAME                     the items as a grid, a page at a time
                                (?sort=id|path|added|outlier&order=asc|desc&page=N&per=N)
    /c/NAME?q=id:42             search with a stored item (a text collection: ?q=any words),
                                the results a page at a time
                                (&k=20&page=2&radius=R&strategy=S&asym=1&baseline=1)
    /c/NAME/item/42             one item: full size, metadata, code, outlier score,
                                reconstruction, nearest neighbours, its file
    /c/NAME/duplicates          duplicate groups (?threshold=0.94&keep=first&page=N)
    /c/NAME/outliers            the items by outlier score, worst first (?page=N)
    /c/NAME/reconstructions     items beside their reconstructions (?sort=...&page=N)
    POST /c/NAME/upload         the results for an uploaded image or text (part of a page)

Pages are rendered here (Jinja2) with links relative to the server's root: the Host
header is never written into a page. A request carrying `X-Semhash-Fragment: 1` (the
page's own script, moving between views) gets only the part of the page that changes.
Every number from the URL is range-checked before it reaches the collection.
"""

from __future__ import annotations

import math
import re
import threading
import time
from pathlib import Path as FsPath
from typing import Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.exceptions import HTTPException

from semantic_hashing.retrieval.errors import SemhashError
from semantic_hashing.server.browse import INLINE, MAX_ID, in_thread, servable
from semantic_hashing.server.state import validation_sentence

router = APIRouter(include_in_schema=False)
HERE = FsPath(__file__).parent
FRAGMENT = "X-Semhash-Fragment"
PAGE_START, PAGE_END = "<!--page-->", "<!--/page-->"  # what a fragment is cut from
MAX_RESULTS = 1000  # ranks reachable by paging (the API's MAX_K)
SHOWN_PER_GROUP = 24  # duplicates drawn per group (a group is selected whole)
MAX_PAGE_NO = 1_000_000
Sort = Literal["id", "path", "added", "outlier"]
Order = Literal["asc", "desc"]
Strategy = Literal["", "flat", "hash", "ivf", "hnsw"]
Keep = Literal["first", "largest", "oldest"]

ENV = Environment(loader=FileSystemLoader(HERE / "templates"),
                  autoescape=select_autoescape(default=True))  # fmt: skip
ENV.filters["thousands"] = lambda n: f"{n:,}"
ENV.filters["name"] = lambda p: FsPath(p).name
ENV.filters["short"] = lambda p: "/".join(str(p).split("/")[-2:])
ENV.filters["bytes"] = lambda n: ("–" if n is None or n < 0 else f"{n:,} bytes" if n < 10_000
                                  else f"{n / 1024:,.0f} KiB" if n < 10 * 2**20
                                  else f"{n / 2**20:,.1f} MiB")  # fmt: skip


def href(path: str, params: dict | None = None, **changes) -> str:
    """A link to `path` below the server's root with `params`, changed by `changes` (a
    None drops a parameter; page 1 is left out)."""
    merged = {**(params or {}), **changes}
    kept = {k: v for k, v in merged.items() if v is not None and v != "" and
            not (k == "page" and str(v) == "1")}  # fmt: skip
    return path + ("?" + urlencode(kept) if kept else "")


def distance(d, method: str) -> str:
    """A result's distance as the cards show it: `d 3`, `L2 3.04`, `asym 0.12`."""
    name = {"hamming": "d", "raw-l2": "L2", "hamming+asymmetric": "asym"}.get(method, "cos d")
    if float(d).is_integer() and method == "hamming":
        return f"{name} {int(d)}"
    shown = f"{d:.2g}" if abs(d) < 0.01 else f"{d:.2f}"
    return f"{name} {shown}"


ENV.globals["href"] = href
ENV.filters["distance"] = distance


def root_of(request: Request) -> str:
    """The path the app is mounted at ("" at the server's root); links start with it."""
    return request.scope.get("root_path", "").rstrip("/")


def render(request: Request, template: str, status: int = 200, **context) -> HTMLResponse:
    """A whole page, or only its `page` block for the page's own script."""
    context.setdefault("root", root_of(request))
    context.setdefault("params", dict(request.query_params))
    html = ENV.get_template(template).render(context)
    if request.headers.get(FRAGMENT) == "1":
        html = html[html.find(PAGE_START) + len(PAGE_START) : html.rfind(PAGE_END)]
    return HTMLResponse(html, status, headers={"Cache-Control": "no-store", "Vary": FRAGMENT})


def error_page(request: Request, status: int, text: str) -> HTMLResponse | None:
    """The sentence of an error as a page, for requests of pages (None: answer JSON)."""
    path = request.url.path[len(root_of(request)) :]
    fragment = request.headers.get(FRAGMENT) == "1"
    if request.method != "GET" or fragment or not (path == "/" or path.startswith("/c/")):
        return None
    served_ = request.app.state.served
    name = request.path_params.get("name")
    return render(request, "error.html", status, code=status, text=text,
                  names=list(served_.collections),
                  name=name if name in served_.collections else None)  # fmt: skip


def base(request: Request, name: str, view: str) -> dict:
    """What every page of a collection shows: the picker, the tabs, the info panel (made
    once per state of the collection: counting its labels reads every row)."""
    from semantic_hashing.server.routes import describe

    served_ = request.app.state.served
    coll = served_.get(name)
    store, info = served_.panels.get(name, (None, None))
    if store is not coll.store:
        info = describe(name, coll)
        served_.panels[name] = (coll.store, info)
    return {"names": list(served_.collections), "name": name, "info": info,
            "view": view, "path": str(coll.path.resolve()), "coll": coll}  # fmt: skip


WAIT_S = 2.0  # a part that takes longer is computed in the background meanwhile


class Warming(threading.Thread):
    """Computes a costly part of browsing for one state of a collection."""

    def __init__(self, coll, what: str):
        super().__init__(daemon=True, name=f"semhash-{what}")
        self.coll, self.store, self.what, self.error = coll, coll.store, what, None

    def run(self):  # FAISS may use every core here: a one-off job, not a query
        try:
            if self.what == "outliers":
                self.coll.items_page(0, 1, sort="outlier")
            else:
                self.coll.duplicate_view(limit=1)
        except Exception as exc:  # shown to the next request
            self.error = exc


async def warming(request: Request, ctx: dict, what: str) -> HTMLResponse | None:
    """None once `what` ("outliers" or "duplicates") is computed for the collection's
    current state. Else it is computed in the background (once), and when that takes more
    than a moment the answer is a page saying so, which looks again every few seconds:
    the server goes on answering everything else meanwhile."""
    from starlette.concurrency import run_in_threadpool

    coll = ctx["coll"]
    if coll.browse_ready(what):
        return None
    served_ = request.app.state.served
    key = (ctx["name"], what)
    job = served_.warming.get(key)
    if job is not None and job.store is not coll.store:
        job = None  # an older state's
    if job is None or (not job.is_alive() and job.error is None):
        job = served_.warming[key] = Warming(coll, what)
        job.start()
    await run_in_threadpool(job.join, WAIT_S)
    if job.error is not None:
        del served_.warming[key]
        raise job.error
    if not job.is_alive():
        return None
    return render(request, "warming.html", 202, **ctx, what=what,
                  items=ctx["info"]["items"])  # fmt: skip


def pages(total: int, per: int) -> int:
    return max(1, math.ceil(total / per))


@router.get("/")
def home(request: Request, c: str | None = None):
    served_ = request.app.state.served
    name = c if c in served_.collections else next(iter(served_.collections))
    return RedirectResponse(f"{root_of(request)}/c/{name}", status_code=303)


def parse_q(q: str, kind) -> dict:
    """`id:42` searches with a stored item; on a text collection anything else is text."""
    q = q.strip()
    found = re.fullmatch(r"id:\s*([0-9]{1,25})", q, re.IGNORECASE)
    if found:
        if int(found[1]) > MAX_ID:
            raise HTTPException(422, f"id {found[1]} is out of range.")
        return {"id": int(found[1])}
    if not q:
        raise SemhashError("the search is empty.")
    if not kind.word_counts:
        raise SemhashError("an image collection is searched by example: drop an image, or "
                           "give q=id:N to search with a stored item.")  # fmt: skip
    return {"text": q}


def search_options(k: int, page: int, radius: int, strategy: str, asym: bool,
                   baseline: bool, bits: int) -> dict:  # fmt: skip
    """The controls as the page shows them, checked against each other."""
    if (page - 1) * k + k > MAX_RESULTS:
        raise HTTPException(422, f"page {page} of {k} results goes beyond the first "
                            f"{MAX_RESULTS} results.")  # fmt: skip
    if radius > bits:
        raise HTTPException(422, f"the radius must be from 0 to {bits} (the code length), "
                            f"not {radius}.")  # fmt: skip
    if radius >= 0 and strategy == "hnsw":
        raise SemhashError("a radius needs the flat, hash or ivf index, not hnsw.")
    return {"k": k, "page": page, "radius": radius, "strategy": strategy, "asym": asym,
            "baseline": baseline, "offset": (page - 1) * k}  # fmt: skip


def run_search(coll, query: dict, how: dict, image: bytes | None = None) -> dict:
    """The codes' results (and the raw baseline's beside them) of one page."""
    depth = how["offset"] + how["k"]
    radius = None if how["radius"] < 0 else how["radius"]
    started = time.perf_counter()
    codes = coll.search(image, **query, k=depth, radius=radius,
                        strategy=how["strategy"] or None, asymmetric=how["asym"])  # fmt: skip
    ms = (time.perf_counter() - started) * 1000
    out = {"codes": codes, "hits": codes.results[how["offset"] :], "ms": ms, "raw": None}
    if how["baseline"]:
        started = time.perf_counter()
        raw = coll.search(image, **query, k=depth, baseline=coll.input_kind.page_baseline)
        out.update(raw=raw, raw_hits=raw.results[how["offset"] :],
                   raw_ms=(time.perf_counter() - started) * 1000)  # fmt: skip
    out["more"] = len(codes.results) == depth and depth < MAX_RESULTS
    if coll.input_kind.word_counts:
        shown = out["hits"] + out.get("raw_hits", [])
        out["previews"] = {h.id: coll.preview(h.id) for h in shown}
    return out


@router.get("/c/{name}")
async def workspace(
    request: Request, name: str,
    q: str | None = Query(None, max_length=20_000),
    sort: Sort = "id", order: Order = "asc",
    page: int = Query(1, ge=1, le=MAX_PAGE_NO),
    per: int = Query(60, ge=6, le=200),
    k: int = Query(20, ge=1, le=100),
    radius: int = Query(-1, ge=-1, le=4096),
    strategy: Strategy = "",
    asym: bool = False, baseline: bool = False,
):  # fmt: skip
    """The collection as a grid (nothing searched) or the results of `q`."""
    ctx = base(request, name, "search" if q else "browse")
    coll = ctx["coll"]
    how = search_options(k, page, radius, strategy, asym, baseline, coll.bits)
    ctx.update(how=how, sort=sort, order=order, per=per, q=q or "")
    if not q and sort == "outlier" and (wait := await warming(request, ctx, "outliers")):
        return wait
    if q:
        query = parse_q(q, coll.input_kind)
        if "id" in query:
            ctx["query_row"] = coll.item(query["id"])
        ctx["found"] = await in_thread(request, run_search, coll, query, how)
        return render(request, "workspace.html", **ctx)
    listing = await in_thread(request, coll.items_page, (page - 1) * per, per, sort=sort,
                              descending=order == "desc")  # fmt: skip
    if coll.input_kind.word_counts:
        ctx["previews"] = {r["id"]: coll.preview(r["id"]) for r in listing["items"]}
    ctx.update(listing=listing, page=page, pages=pages(listing["total"], per))
    return render(request, "workspace.html", **ctx)


@router.post("/c/{name}/upload")
async def upload(request: Request, name: str):
    """The results of an uploaded image (field `image`) or text (field `text`) with the
    page's controls (k, radius, strategy, asym, baseline) as form fields: the results part
    of the workspace. An upload has no URL of its own."""
    from semantic_hashing.server.routes import _read_query

    ctx = base(request, name, "search")
    coll = ctx["coll"]
    fields, image = await _read_query(request)
    try:
        form = UploadForm(**fields)
    except ValidationError as exc:
        raise HTTPException(422, validation_sentence(exc.errors())) from None
    if (image is None) == (form.text is None):
        raise SemhashError("upload an image or a text.")
    if form.text is not None and not form.text.strip():
        raise SemhashError("the text is empty.")
    how = search_options(form.k, 1, form.radius, form.strategy, form.asym, form.baseline,
                         coll.bits)  # fmt: skip
    query = {} if image is not None else {"text": form.text}
    ctx.update(how=how, sort="id", order="asc", per=60, q="", uploaded=form.label or "upload")
    ctx["found"] = await in_thread(request, run_search, coll, query, how, image)
    return render(request, "results.html", **ctx)


class UploadForm(BaseModel):
    """The form fields of an upload, checked as the URL's are."""

    model_config = ConfigDict(extra="forbid")
    text: str | None = Field(None, max_length=1_000_000)
    k: int = Field(20, ge=1, le=100)
    radius: int = Field(-1, ge=-1, le=4096)
    strategy: Strategy = ""
    asym: bool = False
    baseline: bool = False
    label: str = Field("", max_length=500)


@router.get("/c/{name}/item/{item_id}")
async def item(request: Request, name: str, item_id: int = Path(ge=0, le=MAX_ID),
               k: int = Query(12, ge=1, le=100)):  # fmt: skip
    """One item: full size (or the whole post), metadata, code, outlier score, the
    model's reconstruction, the nearest neighbours, and its file."""
    ctx = base(request, name, "item")
    coll = ctx["coll"]
    row = coll.item(item_id)

    def work():
        near = coll.search(id=item_id, k=k + 1)
        out = {"near": [h for h in near.results if h.id != item_id][:k], "method": near.method,
               "code": coll.code(item_id), "score": coll.score(item_id), "rank": None,
               "document": None, "words": None}  # fmt: skip
        if coll.browse_ready("outliers"):
            out["rank"] = coll.outlier_rank(item_id)
        if coll.input_kind.word_counts:
            out["document"] = coll.document(item_id)
            out["words"] = coll.reconstruct([item_id])[0].words
            out["previews"] = {h.id: coll.preview(h.id) for h in out["near"]}
        return out

    ctx.update(await in_thread(request, work))
    ok = servable(row["path"])
    ctx.update(row=row, k=k, file_ok=ok,
               inline=ok and FsPath(row["path"]).suffix.lower() in INLINE)  # fmt: skip
    return render(request, "item.html", **ctx)


@router.get("/c/{name}/duplicates")
async def duplicates(request: Request, name: str,
                     threshold: float | None = Query(None, ge=-1.0, le=1.0),
                     keep: Keep = "first", page: int = Query(1, ge=1, le=MAX_PAGE_NO),
                     per: int = Query(20, ge=1, le=100)):  # fmt: skip
    """Duplicate groups at a threshold, the keep rule applied, the least similar pairs
    above the threshold, and a selection to act on with the command line."""
    ctx = base(request, name, "duplicates")
    coll = ctx["coll"]
    if wait := await warming(request, ctx, "duplicates"):
        return wait
    view = await in_thread(request, coll.duplicate_view, threshold=threshold, keep=keep,
                           offset=(page - 1) * per, limit=per)  # fmt: skip
    ctx.update(dv=view, page=page, per=per, pages=pages(view.total_groups, per), keep=keep,
               shown=SHOWN_PER_GROUP)  # fmt: skip
    return render(request, "duplicates.html", **ctx)


@router.get("/c/{name}/outliers")
async def outliers(request: Request, name: str, page: int = Query(1, ge=1, le=MAX_PAGE_NO),
                   per: int = Query(48, ge=6, le=200)):  # fmt: skip
    """The items by outlier score, worst first, each with its percentile."""
    ctx = base(request, name, "outliers")
    coll = ctx["coll"]
    if wait := await warming(request, ctx, "outliers"):
        return wait
    listing = await in_thread(request, coll.items_page, (page - 1) * per, per, sort="outlier",
                              descending=True)  # fmt: skip
    if coll.input_kind.word_counts:
        ctx["previews"] = {r["id"]: coll.preview(r["id"]) for r in listing["items"]}
    ctx.update(listing=listing, page=page, per=per, pages=pages(listing["total"], per))
    return render(request, "outliers.html", **ctx)


@router.get("/c/{name}/reconstructions")
async def reconstructions(request: Request, name: str, sort: Sort = "id", order: Order = "asc",
                          page: int = Query(1, ge=1, le=MAX_PAGE_NO),
                          per: int = Query(12, ge=1, le=50)):  # fmt: skip
    """Items beside what the model makes of them (images: the pictures; text: the words)."""
    ctx = base(request, name, "reconstructions")
    coll = ctx["coll"]
    if sort == "outlier" and (wait := await warming(request, ctx, "outliers")):
        return wait

    def work():
        listing = coll.items_page((page - 1) * per, per, sort=sort, descending=order == "desc")
        ids = [r["id"] for r in listing["items"]]
        recs = coll.reconstruct(ids) if ids else []
        return listing, {r.id: r for r in recs}

    listing, recs = await in_thread(request, work)
    ctx.update(listing=listing, recs=recs, page=page, per=per, sort=sort, order=order,
               pages=pages(listing["total"], per))  # fmt: skip
    return render(request, "reconstructions.html", **ctx)
