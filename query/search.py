"""Answering queries against a collection: by file, folder, typed text, or stored id.

A query is turned into the collection's model input, encoded with the collection's own
encoder, and looked up by Hamming distance; `baseline="raw"` answers the same query by
Euclidean distance on raw model-size pixels (TF-IDF cosine for text) instead, in the same
result format.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from semantic_hashing.indexer.store import Store
from semantic_hashing.query import baselines, rerank
from semantic_hashing.query.options import SearchOptions
from semantic_hashing.query.results import Hit, Queries, QueryResult
from semantic_hashing.retrieval import text
from semantic_hashing.retrieval.errors import SemhashError
from semantic_hashing.retrieval.images import is_image_path, list_images
from semantic_hashing.retrieval.sources import ImageSource, TextSource, TrainSpec, vocabulary


def load_image_queries(coll: Store, query: str | Path) -> Queries:
    """An image file or a folder of images, resized to the collection's model input."""
    query = Path(query)
    if not query.exists():
        raise SemhashError(f"{query} does not exist.")
    if coll.kind != "image":
        raise SemhashError(
            f"{coll.path} is a {coll.kind} collection; it cannot be searched with images."
        )
    paths = list_images(query) if query.is_dir() else [query]
    if query.is_file() and not is_image_path(query):
        raise SemhashError(f"{query} is not an image file (by its extension).")
    if not paths:
        raise SemhashError(f"no image files were found in {query}.")
    loaded = ImageSource().read(paths, coll.encoder, TrainSpec())
    if query.is_file() and loaded.skipped:
        raise SemhashError(f"{query} cannot be read: {loaded.skipped[0][1]}.")
    return Queries([str(p) for p in loaded.paths], loaded.items, loaded.skipped)


def load_queries(coll: Store, query: str | Path) -> Queries:
    """A query file or folder, read the way the collection's items were read."""
    query = Path(query)
    if coll.kind == "image":
        return load_image_queries(coll, query)
    if query.is_file() and is_image_path(query):
        raise SemhashError(f"{coll.path} is a text collection; it cannot be searched with images.")
    return load_text_queries(coll, query)


def load_text_queries(coll: Store, query: str | Path) -> Queries:
    """A text file or a folder of them; queries with no vocabulary word are skipped."""
    query = Path(query)
    if not query.exists():
        raise SemhashError(f"{query} does not exist.")
    paths = text.list_documents(query)
    if not paths:
        raise SemhashError(f"no text files were found in {query}.")
    loaded = TextSource().read(paths, coll.encoder, TrainSpec())
    if query.is_file() and loaded.skipped:
        raise SemhashError(f"{query} cannot be read: {loaded.skipped[0][1]}.")
    names = [str(p) for p in loaded.paths]
    return _text_inputs(
        coll, names, [d.text for d in loaded.items], loaded.skipped, query.is_file()
    )


def text_query(coll: Store, query_text: str) -> Queries:
    """A query typed on the command line."""
    if coll.kind != "text":
        raise SemhashError(f"{coll.path} is an {coll.kind} collection; --text needs a text one.")
    return _text_inputs(coll, [query_text], [query_text], [], single=True)


def _text_inputs(coll, names, texts, skipped, single: bool) -> Queries:
    counts = vocabulary(coll.encoder).counts(texts)
    empty = np.flatnonzero(counts.getnnz(axis=1) == 0)
    if single and len(empty):
        raise SemhashError(
            "nothing to search with: the query has only stop words or words the collection "
            "does not know."
        )
    keep = np.setdiff1d(np.arange(len(names)), empty)
    skipped = skipped + [(names[i], "no known words to search with") for i in empty]
    return Queries([names[i] for i in keep], counts[keep], skipped)


def id_queries(coll: Store, ids: list[int]) -> Queries:
    """Stored items as queries (their raw model input is kept in the collection)."""
    rows = coll.meta.get(ids)
    missing = [i for i in ids if i not in rows]
    if missing:
        raise SemhashError(f"id {missing[0]} is not in {coll.path}.")
    inputs = coll.inputs(ids)
    if coll.kind == "text":
        return Queries([rows[i].path for i in ids], inputs)
    cfg = coll.encoder.config
    shape = (len(ids), cfg.channels, cfg.image_size, cfg.image_size)
    return Queries([rows[i].path for i in ids], np.asarray(inputs).reshape(shape))


def search(coll: Store, queries: Queries, options: SearchOptions | None = None,
           stored: tuple | None = None, **how) -> list[QueryResult]:  # fmt: skip
    """Nearest neighbours of each query, answered as `options` say (or the SearchOptions
    fields given as keywords, `how`): top-k, or all within `radius` (Hamming; at most k of
    them when k is given). `strategy` picks the index (flat, hash, ivf, hnsw; default by
    collection size), `params` its knobs; `stored`: (ids, inputs) of the live items for the
    raw baseline, when the caller keeps them (else read from the collection). Short text
    queries (a few typed words) are answered by a Hamming shortlist re-ranked by TF-IDF
    (`query.rerank`) unless `rerank_short` is off or a radius is asked for. `asymmetric`
    re-ranks the other queries' Hamming shortlist (or radius ball) by the asymmetric
    distance of the unquantised query to the stored codes: finer than Hamming, same
    codes."""
    options = (options or SearchOptions.of(**how)).check(coll)
    k, radius, baseline, asymmetric = (options.k, options.radius, options.baseline,
                                       options.asymmetric)  # fmt: skip
    if not queries.names:
        return []
    reranked = np.zeros(0, np.int64)  # rows of the short text queries re-ranked by TF-IDF
    if baseline is not None:
        raw_search = baselines.tfidf_cosine if coll.kind == "text" else baselines.raw_l2
        ids, inputs = stored if stored is not None else coll.live_inputs()
        D, rows = raw_search(inputs, queries.inputs, options.top)
        pairs = list(zip(D, ids[rows], strict=True))
        method = "tfidf-cosine" if coll.kind == "text" else "raw-l2"
    else:
        index = coll.search_index(options.strategy, options.params)
        real = coll.encoder.real(queries.inputs)
        codes = coll.encoder.binarize(real)
        if radius is not None:  # with asymmetric, the whole ball is re-ranked, then cut
            balls = index.range_search(codes, radius)
            pairs = balls if asymmetric else [(d[:k], i[:k]) for d, i in balls]
        else:  # with asymmetric, one search for the shortlist that is then re-ranked
            depth = max(rerank.SHORTLIST, options.top) if asymmetric else options.top
            pairs = list(zip(*index.search(codes, depth), strict=True))
        if asymmetric:
            cut = k if radius is not None else options.top
            pairs = rerank.rerank_asymmetric(coll, real, [ids for _, ids in pairs], cut)
        if coll.kind == "text" and options.rerank_short and radius is None:
            pairs, reranked = rerank.rerank_short_queries(
                coll, index, queries.inputs, codes, pairs, options.top
            )
        method = "hamming+asymmetric" if asymmetric else "hamming"
    rows = coll.meta.get(np.unique(np.concatenate([i for _, i in pairs])))
    out = []
    for n, (name, (dist, ids)) in enumerate(zip(queries.names, pairs, strict=True)):
        hits = [
            Hit(int(i), rows[i].path, _num(d), rows[i].label, rows[i].title)
            for d, i in zip(dist, ids, strict=True) if int(i) in rows
        ]  # fmt: skip
        out.append(QueryResult(name, hits, "hamming+tfidf" if n in reranked else method))
    return out


def _num(d) -> float | int:
    """Hamming distances as ints; others to 4 significant digits (asymmetric distances of a
    barely trained model can all be below 1e-4)."""
    return int(d) if float(d).is_integer() else float(f"{float(d):.4g}")
