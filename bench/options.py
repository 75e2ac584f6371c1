"""What `semhash bench` is asked: the methods, code lengths and data set of one run."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from semantic_hashing.bench.hashing import HASHERS
from semantic_hashing.retrieval.errors import SemhashError
from semantic_hashing.retrieval.families import FAMILIES, MODEL_TYPES
from semantic_hashing.retrieval.params import check_bits

FLOAT_FEATURES = "features"  # the method that ranks by the backbone's float features
DEFAULT_METHODS = "ae:conv-dae,ae-asym:conv-dae,ae-rerank:conv-dae,ae-real:conv-dae,raw,lsh,pca,itq"
FEATURE_METHODS = "ae:feature-dae,ae-asym:feature-dae,features,ae:conv-dae,raw"
AE_KINDS = ("ae", "ae-real", "ae-rerank", "ae-asym", "ae-tfidf")
DEFAULT_BITS = "16,32,64,128"


@dataclass(frozen=True)
class Method:
    kind: str  # one of AE_KINDS, "raw", "features", "lsh", "pca" or "itq"
    family: str = ""

    @property
    def name(self) -> str:
        return f"{self.kind}:{self.family}" if self.family else self.kind


def parse_methods(text: str) -> list[Method]:
    """`ae:conv-dae,ae-real:conv-dae,raw,lsh,pca,itq` -> Methods (order kept, no repeats)."""
    out: list[Method] = []
    for item in (part.strip() for part in text.split(",")):
        kind, _, family = item.partition(":")
        if kind in AE_KINDS:
            families = sorted(FAMILIES) if family == "all" else [family]
            if not family or any(f not in MODEL_TYPES for f in families):
                names = ", ".join(sorted(MODEL_TYPES))
                raise SemhashError(
                    f"{item!r}: write {kind}:FAMILY with FAMILY one of {names}, all."
                )
            out += [Method(kind, f) for f in families]
        elif kind in ("raw", FLOAT_FEATURES, *HASHERS) and not family:
            out.append(Method(kind))
        else:
            raise SemhashError(
                f"unknown method {item!r}; use ae:FAMILY, ae-real:FAMILY, ae-rerank:FAMILY, "
                "ae-asym:FAMILY, ae-tfidf:FAMILY, raw, features, lsh, pca or itq."
            )
    return list(dict.fromkeys(out))


def parse_bits(text: str) -> list[int]:
    """`16,32,64` -> [16, 32, 64]; each a code length `check_bits` accepts."""
    try:
        bits = [int(b) for b in text.split(",") if b.strip()]
    except ValueError:
        raise SemhashError(f"--bits takes comma-separated numbers, not {text!r}.") from None
    if not bits:
        raise SemhashError(f"--bits takes comma-separated numbers, not {text!r}.")
    return sorted({check_bits(b) for b in bits})


@dataclass
class BenchOptions:
    dataset: str = "fashion-mnist"
    bits: list[int] = field(default_factory=lambda: parse_bits(DEFAULT_BITS))
    queries: int = 1000
    seed: int = 0
    db_size: int = 0  # > 0: a seeded sample of this many database items
    vocab: int = 10_000  # text: vocabulary size, for the codes and TF-IDF alike
    vocab_by: str = "count"  # text: rank words by total count or document frequency
    query_text: str = "post"  # 20news: the whole query post, or its Subject: line alone
    methods: list[Method] = field(default_factory=lambda: parse_methods(DEFAULT_METHODS))
    out: Path = Path("report")
    epochs: int | None = None  # None: the training default
    quality: str = "default"  # the training preset (retrieval.presets)
    device: str = "auto"
    top_n: int = 0  # ranked-list length for the curves; 0 = the whole database (exact)
    radius: int = 2
    timing_k: int = 100
    shortlist: int = 1000  # ae-rerank, ae-asym, ae-tfidf: Hamming candidates re-ranked
    single_queries: int = 200  # queries timed one at a time
    features: str = "pixels"  # image data: also through this backbone (bench.features)
    input_size: int = 0  # the side the backbone sees (0: the features kind's default)
