"""Scoring one method in `semhash bench`: exact ranked lists, metrics, FAISS query timing.

Rankings are exact and deterministic: every query is compared with every database item
(popcount Hamming for codes, Euclidean or inner product for real vectors) and sorted
stably, so ties keep database order. Query time is measured separately with the FAISS
index the method would use in production, on one thread.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import faiss
import numpy as np

from semantic_hashing.retrieval import metrics
from semantic_hashing.retrieval.codes import hamming
from semantic_hashing.retrieval.errors import SemhashError

METRICS = ("hamming", "l2", "ip")  # a RerankSpace is "hamming" for its first stage


@dataclass
class Space:
    """Database and query vectors compared by one metric: packed uint8 codes for
    "hamming", float32 rows for "l2" (Euclidean) and "ip" (inner product, cosine when the
    rows are L2-normalised)."""

    metric: str
    db: np.ndarray
    q: np.ndarray
    _db_sq: np.ndarray | None = field(default=None, repr=False)

    def __post_init__(self):
        if self.metric not in METRICS:
            raise ValueError(f"metric must be one of {METRICS}")
        cast = np.uint8 if self.metric == "hamming" else np.float32
        self.db = np.ascontiguousarray(self.db, dtype=cast)
        self.q = np.ascontiguousarray(self.q, dtype=cast)

    def distances(self, rows: slice) -> np.ndarray:
        """(len(rows), N) distances of queries `rows` to every database item."""
        q = self.q[rows]
        if self.metric == "hamming":
            return hamming(q, self.db, chunk=16).astype(np.uint16)
        if self.metric == "ip":
            return -(q @ self.db.T)
        if self._db_sq is None:
            self._db_sq = (self.db.astype(np.float64) ** 2).sum(1).astype(np.float32)
        return (q**2).sum(1, keepdims=True) - 2 * (q @ self.db.T) + self._db_sq

    @property
    def hamming_ranked(self) -> bool:
        """Whether distances() are Hamming distances (precision within a radius applies)."""
        return self.metric == "hamming"

    def bytes_per_item(self) -> int:
        return self.db.shape[1] * self.db.itemsize

    def faiss_index(self):
        """The index this method would be served from: IndexBinaryFlat or IndexFlat."""
        d = self.db.shape[1]
        if self.metric == "hamming":
            index = faiss.IndexBinaryFlat(d * 8)
        else:
            index = faiss.IndexFlatL2(d) if self.metric == "l2" else faiss.IndexFlatIP(d)
        index.add(self.db)
        return index

    def searcher(self):
        """search(query rows, k) as the method would answer it in production."""
        index = self.faiss_index()
        return lambda rows, k: index.search(self.q[rows], k)


@dataclass
class RerankSpace(Space):
    """Two-stage search: the `shortlist` nearest codes by Hamming distance (ties in database
    order), re-ranked by the Euclidean distance of the real-valued codes; the rest of the
    database follows in Hamming order. `db`/`q` are the packed codes."""

    real_db: np.ndarray | None = None
    real_q: np.ndarray | None = None
    shortlist: int = 1000

    def __post_init__(self):
        super().__post_init__()
        self.real_db = np.ascontiguousarray(self.real_db, dtype=np.float32)
        self.real_q = np.ascontiguousarray(self.real_q, dtype=np.float32)

    def distances(self, rows: slice) -> np.ndarray:
        """Shortlisted items get their real distance (< 1e6), the others 1e6 + Hamming."""
        ham = hamming(self.q[rows], self.db, chunk=16)
        out = ham.astype(np.float32) + np.float32(1e6)
        short = np.argsort(ham, axis=1, kind="stable")[:, : self.shortlist]
        real_q = self.real_q[rows]
        for r in range(len(out)):
            out[r, short[r]] = self._real_distances(short[r], real_q[r])
        return out

    def _real_distances(self, items: np.ndarray, query: np.ndarray) -> np.ndarray:
        """Squared Euclidean distances of one query's real code to those of `items`."""
        diff = self.real_db[items] - query
        return np.einsum("ij,ij->i", diff, diff)

    @property
    def hamming_ranked(self) -> bool:
        return False

    def bytes_per_item(self) -> int:
        return self.db.shape[1] + self.real_db.shape[1] * 4

    def searcher(self):
        index = faiss.IndexBinaryFlat(self.db.shape[1] * 8)
        index.add(self.db)
        length = min(self.shortlist, len(self.db))

        def search(rows, k):
            _, short = index.search(self.q[rows], length)
            real_q = self.real_q[rows]
            for r in range(len(short)):
                dist = self._real_distances(short[r], real_q[r])
                short[r, :k] = short[r, np.argsort(dist, kind="stable")[:k]]
            return short[:, :k]

        return search


@dataclass
class AsymmetricSpace(RerankSpace):
    """The `shortlist` nearest codes by Hamming distance re-ranked by the asymmetric distance
    of the unquantised query to each code (`retrieval.asymmetric`): the database holds the
    codes only. `real_db` are the codes decoded by the level table (computed from the bits,
    kept here so that timing does not decode the whole database per query), `real_q` the
    queries' projected values."""

    def bytes_per_item(self) -> int:
        return self.db.shape[1]


@dataclass
class TfidfRerankSpace(RerankSpace):
    """Text: the `shortlist` nearest codes by Hamming distance re-ranked by TF-IDF cosine
    (what `semhash search` does for short typed queries); `real_db`/`real_q` are the
    L2-normalised sparse TF-IDF rows. Distances of the shortlist are 1 - cosine."""

    def __post_init__(self):
        Space.__post_init__(self)
        self.real_db, self.real_q = self.real_db.tocsr(), self.real_q.tocsr()

    def _real_distances(self, items: np.ndarray, query: np.ndarray) -> np.ndarray:
        return 1.0 - (self.real_db[items] @ query.T).toarray().ravel().astype(np.float32)

    def bytes_per_item(self) -> int:  # the code plus the stored sparse word weights
        return self.db.shape[1] + int(8 * self.real_db.nnz / max(self.real_db.shape[0], 1))


def curve_ks(n: int, points: int = 60) -> np.ndarray:
    """Cut-offs for the recall and precision-recall curves: log-spaced from 1 to n, plus the
    usual 10, 100 and 1000."""
    ks = np.geomspace(1, n, points).round().astype(np.int64)
    return np.unique(np.concatenate([ks, [k for k in (10, 100, 1000) if k <= n], [n]]))


def score(space: Space, db_labels: np.ndarray, q_labels: np.ndarray, top_n: int = 0,
          radius: int = 2, chunk: int = 128) -> dict:  # fmt: skip
    """Retrieval quality of `space` on labelled queries (relevant = same label).

    `top_n` is the length of the ranked list the curves are computed on (0 = the whole
    database, exact). Precision within `radius` is for Hamming spaces only.
    """
    n_db, n_q = len(space.db), len(space.q)
    top_n = min(top_n or n_db, n_db)
    if n_db == 0 or n_q == 0:
        raise SemhashError("the benchmark needs at least one database item and one query.")
    relevant = np.empty((n_q, top_n), dtype=bool)
    ball_precision, ball_found = [], []
    for i in range(0, n_q, chunk):
        rows = slice(i, i + chunk)
        dist = space.distances(rows)
        relevant[rows] = metrics.relevance(
            q_labels[rows], db_labels, metrics.rank_by_distance(dist, top_n)
        )
        if space.hamming_ranked:
            same = db_labels[None, :] == q_labels[rows, None]
            p, found = precision_within_radius(dist, same, radius)
            ball_precision.append(p)
            ball_found.append(found)
    ks = curve_ks(top_n)
    precision, recall = precision_recall_curve(relevant, relevant_counts(q_labels, db_labels), ks)
    out = {
        "p@10": metrics.precision_at_k(relevant, min(10, top_n)),
        "p@100": metrics.precision_at_k(relevant, min(100, top_n)),
        "map@1000": metrics.mean_average_precision(relevant, 1000),
        "radius_precision": None,
        "radius_hit_fraction": None,
        "curve": {"k": ks.tolist(), "precision": precision.tolist(), "recall": recall.tolist()},
    }
    if ball_precision:
        out["radius_precision"] = float(np.concatenate(ball_precision).mean())
        out["radius_hit_fraction"] = float(np.concatenate(ball_found).mean())
    return out


def time_queries(space: Space, k: int = 100, single: int = 200) -> dict:
    """Milliseconds per query on one thread: all queries in one batch, and the first
    `single` queries one at a time."""
    search = space.searcher()
    k = min(k, len(space.db))
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        search(slice(0, 1), k)  # warm-up: first-call allocations are not query time
        start = time.perf_counter()
        search(slice(None), k)
        batch = (time.perf_counter() - start) / len(space.q)
        n = min(single, len(space.q))
        start = time.perf_counter()
        for i in range(n):
            search(slice(i, i + 1), k)
        one = (time.perf_counter() - start) / max(n, 1)
    finally:
        faiss.omp_set_num_threads(before)
    return {"query_ms_batch": 1e3 * batch, "query_ms_single": 1e3 * one}


# -- measures only the benchmark reports ------------------------------------------
def relevant_counts(query_labels: np.ndarray, db_labels: np.ndarray) -> np.ndarray:
    """How many database items share each query's label (the denominator of recall)."""
    db_labels, query_labels = np.asarray(db_labels), np.asarray(query_labels)
    size = max(db_labels.max(initial=-1), query_labels.max(initial=-1)) + 1
    return np.bincount(db_labels, minlength=size)[query_labels]


def precision_recall_curve(relevant: np.ndarray, n_relevant: np.ndarray, ks):
    """(precision, recall) at each cut-off k of the ranked lists, both averaged over queries:
    the curve traced by growing the returned list."""
    precision = (metrics.hits_at(relevant, ks) / np.asarray(ks, dtype=np.float64)).mean(axis=0)
    return precision, metrics.recall_at_k(relevant, n_relevant, ks)


def precision_within_radius(dist: np.ndarray, same: np.ndarray, radius: int):
    """Per query: precision of the items at distance <= `radius` (0 when there are none),
    and whether there was any. `dist` and `same` (is the item relevant?) are (Q, N)."""
    ball = dist <= radius
    found = ball.sum(axis=1)
    good = (ball & same).sum(axis=1)
    precision = np.divide(good, found, out=np.zeros(len(dist)), where=found > 0)
    return precision, found > 0
