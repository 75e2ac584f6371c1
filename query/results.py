"""Answers as plain dataclasses: `to_dict()` is what `semhash search --json` prints.

Kept apart from the searching code so that importing them costs nothing.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np


@dataclass
class Hit:
    id: int
    path: str
    distance: float
    label: str
    title: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class QueryResult:
    query: str
    results: list[Hit]
    method: str = "hamming"

    def to_dict(self) -> dict:
        return {"query": self.query, "results": [h.to_dict() for h in self.results]}


@dataclass
class Queries:
    """Model-ready queries: names, inputs (uint8 pixels or sparse word counts), and the
    files that could not be used."""

    names: list[str]
    inputs: np.ndarray
    skipped: list[tuple[str, str]] = field(default_factory=list)
    codes: np.ndarray | None = None  # stored items' own codes (queries by id)


@dataclass
class Batch:
    """Results of many queries, and the query files that could not be used."""

    results: list[QueryResult]
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"results": [r.to_dict() for r in self.results],
                "skipped": [{"path": p, "reason": why} for p, why in self.skipped]}  # fmt: skip
