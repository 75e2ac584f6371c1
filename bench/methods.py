"""The methods of `semhash bench`, each turned into search spaces and scored.

Raw features and the FAISS hashers are fitted on the database only; autoencoders train on
the database items without labels. Every row records its training time (0 when there is
nothing to fit), its encoding throughput over the database and its query times.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

import numpy as np

from semantic_hashing.bench.data import BenchData
from semantic_hashing.bench.eval import (
    AsymmetricSpace,
    RerankSpace,
    Space,
    TfidfRerankSpace,
    score,
    time_queries,
)
from semantic_hashing.bench.hashing import HASHERS
from semantic_hashing.bench.options import FLOAT_FEATURES
from semantic_hashing.retrieval.errors import SemhashError
from semantic_hashing.retrieval.families import get_family
from semantic_hashing.retrieval.kinds import get_kind
from semantic_hashing.retrieval.progress import timed

if TYPE_CHECKING:
    from semantic_hashing.bench.options import BenchOptions

log = logging.getLogger(__name__)


def run_methods(data: BenchData, opts: BenchOptions, timings: dict) -> list[dict]:
    """One row per (method, bits); `raw` is one row with bits None."""
    names = [m.name for m in opts.methods]
    rows = []
    feats = data.features  # the same items through a backbone (`--features`), or None
    if {"raw", *HASHERS} & set(names):
        start = time.perf_counter()
        db, q, metric = raw_features(data)
        feature_seconds = _add(timings, "encode", time.perf_counter() - start)
    if "raw" in names:
        rows.append(_row("raw", None, Space(metric, db, q), data, opts, timings,
                         train=0.0, encode=feature_seconds))  # fmt: skip
    if feats is not None:
        fdb, fq = float_features(feats)
        if FLOAT_FEATURES in names:
            space = Space("ip", unit_rows(fdb), unit_rows(fq))
            rows.append(_row(FLOAT_FEATURES, None, space, data, opts, timings, train=0.0,
                             encode=_extract_rate(timings)))  # fmt: skip
        db, q = fdb, fq  # LSH, PCA and ITQ are fitted on the backbone's features
    families = list(dict.fromkeys(m.family for m in opts.methods if m.family))
    for bits in opts.bits:
        for name in (n for n in HASHERS if n in names):
            rows.append(hasher_row(name, bits, db, q, data, opts, timings))
        for family in families:
            kinds = {m.kind for m in opts.methods if m.family == family}
            on = feats if feats is not None and get_family(family).serves(feats.kind) else data
            rows += autoencoder_rows(family, bits, kinds, on, opts, timings)
    return rows


def float_features(data: BenchData) -> tuple[np.ndarray, np.ndarray]:
    """The backbone's float32 features of a features data set (database, queries)."""
    from semantic_hashing.retrieval.kinds.features import unpack_features

    dim = int(data.backbone["dim"])
    return unpack_features(data.db_inputs, dim), unpack_features(data.q_inputs, dim)


def unit_rows(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def _extract_rate(timings: dict) -> float:
    """Seconds the backbone took (0 when its features came from the cache)."""
    return timings.get("extract", 0.0)


def raw_features(data: BenchData) -> tuple[np.ndarray, np.ndarray, str]:
    """(database, queries, metric), as the input kind gives its raw data: pixels in [0, 1]
    for images (Euclidean); for text, TF-IDF fitted on the database, L2-normalised, compared
    by inner product (cosine)."""
    return get_kind(data.kind).raw_features(data.db_inputs, data.q_inputs)


def tfidf_sparse(data: BenchData):
    """Sparse TF-IDF rows (sublinear tf, IDF of the database, L2-normalised): the raw
    baseline's features, kept sparse for re-ranking."""
    from sklearn.feature_extraction.text import TfidfTransformer

    tfidf = TfidfTransformer(sublinear_tf=True).fit(data.db_inputs)
    return tfidf.transform(data.db_inputs), tfidf.transform(data.q_inputs)


def hasher_row(name: str, bits: int, db: np.ndarray, q: np.ndarray, data: BenchData,
               opts: BenchOptions, timings: dict) -> dict:  # fmt: skip
    start = time.perf_counter()
    hasher = HASHERS[name](bits, opts.seed).fit(db)
    train = _add(timings, "train", time.perf_counter() - start)
    start = time.perf_counter()
    db_codes = hasher.encode(db)
    encode = _add(timings, "encode", time.perf_counter() - start)
    space = Space("hamming", db_codes, hasher.encode(q))
    return _row(name, bits, space, data, opts, timings, train=train, encode=encode)


def train_autoencoder(data: BenchData, family: str, bits: int, opts: BenchOptions):
    """A freshly seeded `family` model trained on the database inputs, its quantiser fitted
    there: (encoder, info)."""
    from semantic_hashing.retrieval.fitting import (
        TrainSpec,
        train_count_encoder,
        train_image_encoder,
    )
    from semantic_hashing.retrieval.training import TrainConfig

    tcfg = TrainConfig(seed=opts.seed, epochs=opts.epochs or 0)
    kind = get_kind(data.kind)
    if data.backbone is not None:  # the rows a features collection stores
        from semantic_hashing.retrieval.fitting import fit

        spec = TrainSpec(bits=bits, model_type=family, device=opts.device, train=tcfg,
                         quality=opts.quality)  # fmt: skip
        return fit(kind.training(data.db_inputs, data.backbone), spec)
    if kind.word_counts:  # trained as word counts, with the kind's own family only
        default = kind.default_family
        if family != default:
            raise SemhashError(f"{data.kind} data takes the {default} family, not {family}.")
        spec = TrainSpec(bits=bits, device=opts.device, train=tcfg, quality=opts.quality)
        return train_count_encoder(data.db_inputs, data.vocab, spec)
    spec = TrainSpec(
        bits=bits, model_type=family, device=opts.device, train=tcfg, quality=opts.quality
    )
    return train_image_encoder(data.db_inputs, spec)


def autoencoder_rows(family: str, bits: int, kinds: set[str], data: BenchData,
                     opts: BenchOptions, timings: dict) -> list[dict]:  # fmt: skip
    """Rows for `ae:family` (binary codes), `ae-rerank:family` (a Hamming shortlist
    re-ranked by the real code), `ae-asym:family` (re-ranked by the asymmetric distance of
    the unquantised query to the codes) and/or `ae-real:family` (the code before
    thresholding), from one trained model."""
    with timed(f"training {family} at {bits} bits"):
        encoder, info = train_autoencoder(data, family, bits, opts)
    _add(timings, "train", info["seconds"])
    start = time.perf_counter()
    real_db = encoder.real(data.db_inputs, show_progress=True)
    real_seconds = time.perf_counter() - start
    start = time.perf_counter()
    codes_db = encoder.binarize(real_db)
    binarize_seconds = time.perf_counter() - start
    _add(timings, "encode", real_seconds + binarize_seconds)
    real_q = encoder.real(data.q_inputs)
    codes_q = encoder.binarize(real_q)
    extra = {"family": family, "epochs": info["epochs"], "steps": info["steps"],
             "device": info["device"], "final_loss": info["final"].get("loss")}  # fmt: skip
    rows = []

    def reranked(kind: str, space: RerankSpace) -> None:  # a row of a two-stage method
        rows.append(_row(f"{kind}:{family}", bits, space, data, opts, timings,
                         train=info["seconds"], encode=real_seconds + binarize_seconds,
                         extra={**extra, "shortlist": opts.shortlist}))  # fmt: skip

    if "ae" in kinds:
        space = Space("hamming", codes_db, codes_q)
        rows.append(_row(f"ae:{family}", bits, space, data, opts, timings, train=info["seconds"],
                         encode=real_seconds + binarize_seconds, extra=extra))  # fmt: skip
    if "ae-rerank" in kinds:
        space = RerankSpace("hamming", codes_db, codes_q, real_db=real_db,
                            real_q=real_q, shortlist=opts.shortlist)  # fmt: skip
        reranked("ae-rerank", space)
    if "ae-asym" in kinds:
        decoded, values = encoder.levels.decode(codes_db), encoder.query_values(real_q)
        space = AsymmetricSpace("hamming", codes_db, codes_q, real_db=decoded,
                                real_q=values, shortlist=opts.shortlist)  # fmt: skip
        reranked("ae-asym", space)
    if "ae-tfidf" in kinds:
        if not get_kind(data.kind).word_counts:
            raise SemhashError("ae-tfidf re-ranks by TF-IDF: it is for text data only.")
        tf_db, tf_q = tfidf_sparse(data)
        space = TfidfRerankSpace("hamming", codes_db, codes_q, real_db=tf_db,
                                 real_q=tf_q, shortlist=opts.shortlist)  # fmt: skip
        reranked("ae-tfidf", space)
    if "ae-real" in kinds:
        space = Space("l2", real_db, real_q)
        rows.append(_row(f"ae-real:{family}", bits, space, data, opts, timings,
                         train=info["seconds"], encode=real_seconds, extra=extra))  # fmt: skip
    return rows


def _row(method: str, bits: int | None, space: Space, data: BenchData, opts: BenchOptions,
         timings: dict, train: float, encode: float, extra: dict | None = None):  # fmt: skip
    start = time.perf_counter()
    quality = score(space, data.db_labels, data.q_labels, opts.top_n, opts.radius)
    speed = time_queries(space, opts.timing_k, opts.single_queries)
    _add(timings, "evaluate", time.perf_counter() - start)
    curve = quality.pop("curve")
    n = len(space.db)
    log.info("%s %s bits: P@100 %.3f", method, bits if bits else "-", quality["p@100"])
    return {"method": method, "bits": bits, "metric": space.metric, **quality, **speed,
            "encode_items_per_s": n / encode if encode > 0 else None, "train_seconds": train,
            "bytes_per_item": space.bytes_per_item(), **(extra or {}), "curve": curve}  # fmt: skip


def _add(timings: dict, key: str, seconds: float) -> float:
    """Accumulate `seconds` into `timings[key]`; return `seconds`."""
    timings[key] = timings.get(key, 0.0) + seconds
    return seconds
