"""Answering queries against a collection: by file, folder, typed text, or stored id.

A query is turned into the collection's model input by its input kind, encoded with the
collection's own encoder, and looked up by Hamming distance; `baseline="raw"` answers the
same query by the kind's raw baseline instead (Euclidean distance on raw model-size pixels,
TF-IDF cosine for text), `baseline="features"` on a features collection by the cosine of the
backbone's float features, in the same result format.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from semantic_hashing.indexer.store import Store
from semantic_hashing.query import rerank
from semantic_hashing.query.options import SearchOptions
from semantic_hashing.query.results import Hit, Queries, QueryResult
from semantic_hashing.retrieval.errors import SemhashError, UnknownItem


def load_queries(coll: Store, query: str | Path) -> Queries:
    """A query file or folder, read the way the collection's items were."""
    return Queries(*coll.input_kind.load_queries(Path(query), coll))


def text_query(coll: Store, query_text: str) -> Queries:
    """A query typed on the command line."""
    return Queries(*coll.input_kind.typed_query(query_text, coll))


def object_query(coll: Store, obj) -> Queries:
    """A query given in memory (image file bytes, a numpy array, a PIL image)."""
    return Queries(*coll.input_kind.in_memory_query(obj, coll))


def id_queries(coll: Store, ids: list[int]) -> Queries:
    """Stored items as queries (their raw model input is kept in the collection)."""
    rows = coll.meta.get(ids)
    missing = [i for i in ids if i not in rows]
    if missing:
        raise UnknownItem(f"id {missing[0]} is not in {coll.path}.")
    try:
        codes = np.asarray(coll.index.codes_of(ids), np.uint8)
    except SemhashError:  # written by another process after this state was opened
        codes = None  # encoded from the stored input instead
    return Queries([rows[i].path for i in ids], codes=codes,
                   read=lambda: coll.model_inputs(ids))  # fmt: skip


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
        coll.input_kind.check_baseline(baseline)  # the kind's own: raw, features, ...
        ids, inputs = stored if stored is not None else coll.live_inputs()
        D, rows = coll.input_kind.baseline(inputs, queries.inputs, options.top, baseline)
        pairs = list(zip(D, ids[rows], strict=True))
        method = coll.input_kind.baselines[baseline][0]
    else:
        index = coll.search_index(options.strategy, options.params)
        if queries.codes is not None and not asymmetric:
            real, codes = None, queries.codes  # what encoding the stored input gives again
        else:
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
        if coll.input_kind.word_counts and options.rerank_short and radius is None:
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
