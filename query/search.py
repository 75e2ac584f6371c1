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

from semantic_hashing.indexer.collection import Collection
from semantic_hashing.indexer.strategies import STRATEGIES, StrategyParams
from semantic_hashing.query import rerank
from semantic_hashing.query.results import Hit, Queries, QueryResult
from semantic_hashing.retrieval.errors import SemhashError
from semantic_hashing.retrieval.kinds import baseline_names

BASELINES = baseline_names()  # every kind's (`Kind.baselines`): raw data, backbone features
MAX_K = 1_000_000  # results per query


def load_queries(coll: Collection, query: str | Path) -> Queries:
    """A query file or folder, read the way the collection's items were."""
    return Queries(*coll.input_kind.load_queries(Path(query), coll))


def text_query(coll: Collection, query_text: str) -> Queries:
    """A query typed on the command line."""
    return Queries(*coll.input_kind.typed_query(query_text, coll))


def object_query(coll: Collection, obj) -> Queries:
    """A query given in memory (image file bytes, a numpy array, a PIL image)."""
    return Queries(*coll.input_kind.in_memory_query(obj, coll))


def id_queries(coll: Collection, ids: list[int]) -> Queries:
    """Stored items as queries (their raw model input is kept in the collection)."""
    rows = coll.meta.get(ids)
    missing = [i for i in ids if i not in rows]
    if missing:
        raise SemhashError(f"id {missing[0]} is not in {coll.path}.")
    return Queries([rows[i].path for i in ids], coll.model_inputs(ids))


def check_search(coll: Collection, k: int | None, radius: int | None, strategy: str | None,
                 params: StrategyParams | None) -> None:  # fmt: skip
    """Refuse a search whose options do not fit the collection, before any index is built."""
    if k is not None and not 1 <= k <= MAX_K:
        raise SemhashError(f"-k must be from 1 to {MAX_K:,}, not {k}.")
    if radius is not None and not 0 <= radius <= coll.bits:
        raise SemhashError(
            f"--radius must be from 0 to {coll.bits} (the code length), not {radius}."
        )
    if strategy not in (None, *STRATEGIES):
        raise SemhashError(f"unknown strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}.")
    params = params or StrategyParams()
    params.validate(coll.bits)
    if strategy not in (None, "flat") and coll.backend == "faiss":
        params.resolved(strategy, coll.bits, len(coll.index))


def search(
    coll: Collection, queries: Queries, k: int | None = 10, radius: int | None = None,
    baseline: str | None = None, strategy: str | None = None,
    params: StrategyParams | None = None, stored: tuple | None = None,
    rerank_short: bool = True, asymmetric: bool = False,
) -> list[QueryResult]:  # fmt: skip
    """Nearest neighbours of each query: top-k, or all within `radius` (Hamming; at most k
    of them when k is given). `strategy` picks the index (flat, hash, ivf, hnsw; default by
    collection size), `params` its knobs; `stored`: (ids, inputs) of the live items for the
    raw baseline, when the caller keeps them (else read from the collection). Short text
    queries (a few typed words) are answered by a Hamming shortlist re-ranked by TF-IDF
    (`query.rerank`) unless `rerank_short` is off or a radius is asked for. `asymmetric`
    re-ranks the other queries' Hamming shortlist (or radius ball) by the asymmetric
    distance of the unquantised query to the stored codes: finer than Hamming, same
    codes."""
    check_search(coll, k, radius, strategy, params)
    if not queries.names:
        return []
    reranked = np.zeros(0, np.int64)  # rows of the short text queries re-ranked by TF-IDF
    if baseline is not None:
        if baseline not in BASELINES:
            raise SemhashError(
                f"unknown baseline {baseline!r}; choose one of {', '.join(BASELINES)}."
            )
        coll.input_kind.check_baseline(baseline)  # the kind's own: raw, features, ...
        ids, inputs = stored if stored is not None else coll.live_inputs()
        D, rows = coll.input_kind.baseline(inputs, queries.inputs, k or 10, baseline)
        pairs = list(zip(D, ids[rows], strict=True))
        method = coll.input_kind.baselines[baseline][0]
    else:
        if radius is not None and strategy == "hnsw":
            raise SemhashError("--radius needs the flat, hash or ivf strategy, not hnsw.")
        index = coll.search_index(strategy, params)
        real = coll.encoder.real(queries.inputs)
        codes = coll.encoder.binarize(real)
        if radius is not None:  # with asymmetric, the whole ball is re-ranked, then cut
            balls = index.range_search(codes, radius)
            pairs = balls if asymmetric else [(d[:k], i[:k]) for d, i in balls]
        else:  # with asymmetric, one search for the shortlist that is then re-ranked
            depth = max(rerank.SHORTLIST, k or 10) if asymmetric else k or 10
            pairs = list(zip(*index.search(codes, depth), strict=True))
        if asymmetric:
            cut = k if radius is not None else k or 10
            pairs = rerank.rerank_asymmetric(coll, real, [ids for _, ids in pairs], cut)
        if coll.input_kind.word_counts and rerank_short and radius is None:
            pairs, reranked = rerank.rerank_short_queries(
                coll, index, queries.inputs, codes, pairs, k or 10
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
