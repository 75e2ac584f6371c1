"""Retrieval quality of a collection on labelled queries (relevant = same label)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from semantic_hashing.indexer.store import Store
from semantic_hashing.query.search import load_queries
from semantic_hashing.retrieval import metrics
from semantic_hashing.retrieval.codes import hamming
from semantic_hashing.retrieval.errors import SemhashError


def _as_ints(db_labels: list[str], q_labels: list[str]) -> tuple[np.ndarray, np.ndarray]:
    names = {name: i for i, name in enumerate(sorted(set(db_labels) | set(q_labels)))}
    return (np.array([names[x] for x in db_labels]), np.array([names[x] for x in q_labels]))


def scores(relevant: np.ndarray) -> dict:
    return {
        "p@10": metrics.precision_at_k(relevant, 10),
        "p@100": metrics.precision_at_k(relevant, 100),
        "map@1000": metrics.mean_average_precision(relevant, 1000),
    }


def evaluate_collection(coll: Store, inputs: np.ndarray, labels: list[str], raw: bool = True):
    """P@10, P@100 and mAP@1000 of the collection's codes (exact Hamming ranking, ties in
    database order), of the same top 1,000 re-ranked by the asymmetric distance (when the
    model has its level table) and, if `raw`, of the kind's baselines (pixels L2, TF-IDF
    cosine for text; on a features collection also the backbone's float features by
    cosine, as "features"), for labelled queries (model inputs `inputs`)."""
    label_of = coll.meta.labels()
    ids, codes = coll.index.ids(), coll.index.codes()
    order = np.argsort(ids, kind="stable")
    keep = np.isin(ids[order], list(label_of))
    db_ids, db_codes = ids[order][keep], codes[order][keep]
    db_labels, q_labels = _as_ints([label_of[int(i)] for i in db_ids], list(labels))
    real = coll.encoder.real(inputs)
    ranked = metrics.rank_by_distance(hamming(coll.encoder.binarize(real), db_codes), 1000)
    out = {"codes": scores(metrics.relevance(q_labels, db_labels, ranked))}
    if coll.encoder.levels is not None:  # what `search --asymmetric` answers
        reranked = asymmetric_rerank(coll.encoder, real, db_codes, ranked)
        out["asymmetric"] = scores(metrics.relevance(q_labels, db_labels, reranked))
    if raw:  # the raw baseline, and the kind's others (a backbone's float features)
        stored = coll.inputs(db_ids)
        for name in coll.input_kind.baselines:
            _, rows = coll.input_kind.baseline(stored, inputs, 1000, name)
            out[name] = scores(metrics.relevance(q_labels, db_labels, rows))
    return out


def asymmetric_rerank(encoder, real: np.ndarray, db_codes: np.ndarray,
                      ranked: np.ndarray) -> np.ndarray:  # fmt: skip
    """Each row of `ranked` (database rows, Hamming order) re-ordered by the asymmetric
    distance of the query's real code to those codes, ties in Hamming order (as `search
    --asymmetric` orders them)."""
    table = encoder.levels
    found = table.rerank(encoder.query_values(real), table.decode(db_codes), ranked)
    return np.array([rows for _, rows in found]).reshape(ranked.shape)


def evaluate_folder(coll: Store, folder: str | Path, limit: int | None = None,
                    seed: int = 0) -> dict:  # fmt: skip
    """Evaluate on a labelled folder of queries (label = parent folder relative to it);
    `limit` keeps a seeded sample of that many queries."""
    folder = Path(folder)
    if limit is not None and limit < 1:
        raise SemhashError(f"--limit must be at least 1, not {limit}.")
    if not 0 <= seed < 2**32:
        raise SemhashError(f"--seed must be from 0 to {2**32 - 1}, not {seed}.")
    queries = load_queries(coll, folder)
    labels = [str(Path(name).parent.relative_to(folder)) for name in queries.names]
    _refuse_unlabelled(coll, folder, labels)
    picks = np.arange(len(labels))
    if limit is not None and limit < len(labels):
        picks = np.sort(np.random.default_rng(seed).choice(len(labels), limit, replace=False))
    inputs = queries.inputs[picks]
    result = evaluate_collection(coll, inputs, [labels[i] for i in picks])
    result["queries"] = len(picks)
    result["skipped"] = queries.skipped
    return result


def _refuse_unlabelled(coll: Store, folder: Path, labels: list[str]) -> None:
    """Scores need labels: queries in label folders (`<label>/<file>`) whose names are
    labels of the collection; anything else would print scores of 0 computed from nothing."""
    if all(label == "." for label in labels):
        raise SemhashError(
            f"the queries in {folder} are not in label folders: put each one in "
            "a folder named after its label (<label>/<file>) to score them."
        )
    known = set(coll.meta.labels().values())
    if not known & set(labels):
        shown = ", ".join(sorted(set(labels) - {"."})[:3])
        raise SemhashError(
            f"none of the label folders of {folder} ({shown}) is a label of "
            f"{coll.path}: scores would be computed without relevant items."
        )
