"""How to answer a search, owned in one place: `SearchOptions`, its defaults and its checks.

The command line, the web server and the Python API each build one `SearchOptions`, and the
search checks it once against the collection (`check`), before any index is built:

    k            neighbours per query (None with a radius: every item in the ball; None
                 without one: DEFAULT_K), at most MAX_K
    radius       every item within this Hamming distance instead of the top k
    baseline     "raw": answer by raw pixels (L2) or TF-IDF cosine instead of codes
    strategy     the index (indexer/strategies.py; None: by collection size) and `params`,
                 its build parameters and search-time knobs (StrategyParams)
    asymmetric   re-rank the Hamming shortlist by the unquantised query's distance to codes
    rerank_short re-rank short typed text queries by TF-IDF

Light on purpose (the strategies are imported when options are checked): the command line
reads DEFAULT_K and BASELINES from here without loading FAISS.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import TYPE_CHECKING

from semantic_hashing.retrieval.errors import OptionError, SemhashError
from semantic_hashing.retrieval.kinds import baseline_names
from semantic_hashing.retrieval.params import MAX_BITS

if TYPE_CHECKING:
    from semantic_hashing.indexer.store import Store
    from semantic_hashing.indexer.strategies import StrategyParams

DEFAULT_K = 10  # neighbours per query when no k is given
MAX_K = 1_000_000  # neighbours per query, at most
BASELINES = baseline_names()  # every kind's (`Kind.baselines`): raw data, backbone features


@dataclass
class SearchOptions:
    k: int | None = DEFAULT_K
    radius: int | None = None
    baseline: str | None = None
    strategy: str | None = None
    params: StrategyParams | None = None  # None: the default knobs
    asymmetric: bool = False
    rerank_short: bool = True

    def __post_init__(self) -> None:
        if self.params is None:
            self.params = _strategies().StrategyParams()

    @classmethod
    def of(cls, **how) -> SearchOptions:
        """Options from keyword settings (the API's `search(..., k=5, radius=2)`)."""
        known = [f.name for f in fields(cls)]
        unknown = sorted(set(how) - set(known))
        if unknown:
            raise SemhashError(f"unknown search option {unknown[0]!r}; the options are "
                               f"{', '.join(known)}.")  # fmt: skip
        return cls(**how)

    @property
    def top(self) -> int:
        """Neighbours per query of a top-k search (and the depth of text re-ranking)."""
        return self.k if self.k is not None else DEFAULT_K

    def validate(self, bits: int) -> SearchOptions:
        """Refuse options that do not go together, or that are out of range for codes of
        `bits` bits; each in one sentence naming the option as the command line does."""
        if self.radius is not None and self.baseline:
            raise SemhashError("--radius applies to codes only, not to --baseline.")
        if self.asymmetric and self.baseline:
            raise SemhashError("--asymmetric re-ranks codes; it does not apply to --baseline.")
        k, radius = self.k, self.radius
        if k is not None and (not _integer(k) or not 1 <= k <= MAX_K):
            raise OptionError("k", f"-k must be from 1 to {MAX_K:,}, not {k}.")
        if radius is not None and (not _integer(radius) or not 0 <= radius <= bits):
            anywhere = not _integer(radius) or not 0 <= radius <= MAX_BITS
            raise OptionError("radius", f"--radius must be from 0 to {bits} (the code length), "
                              f"not {radius}.", anywhere)  # fmt: skip
        if self.baseline is not None and self.baseline not in BASELINES:
            raise OptionError("baseline", f"unknown baseline {self.baseline!r}; choose one of "
                              f"{', '.join(BASELINES)}.")  # fmt: skip
        if self.strategy is not None:
            self._check_strategy()
        self.params.validate(bits)
        return self

    def _check_strategy(self) -> None:
        registry = _strategies().STRATEGIES
        if self.strategy not in registry:
            raise OptionError("strategy", f"unknown strategy {self.strategy!r}; choose one of "
                              f"{', '.join(registry)}.")  # fmt: skip
        if self.radius is not None and not registry[self.strategy].ranges:
            able = [name for name, s in registry.items() if s.ranges]
            raise SemhashError(f"--radius needs the {', '.join(able[:-1])} or {able[-1]} "
                               f"strategy, not {self.strategy}.")  # fmt: skip

    def check(self, coll: Store) -> SearchOptions:
        """`validate` against the collection's code length, then the strategy's automatic
        parameters against its size: everything is refused before an index is built."""
        self.validate(coll.bits)
        if self.strategy is not None and coll.code_store.strategies:
            self.params.resolved(self.strategy, coll.bits, len(coll.index))
        return self


def _strategies():
    from semantic_hashing.indexer import strategies

    return strategies


def _integer(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
