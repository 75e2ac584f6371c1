"""Answers as plain dataclasses: `to_dict()` is what `semhash search --json` prints.

Kept apart from the searching code so that importing them costs nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np


@dataclass
class Hit:
    id: int
    path: str
    distance: float
    label: str
    title: str = ""

    def to_dict(self) -> dict:  # not asdict: its deep copies cost more than a search
        return {"id": self.id, "path": self.path, "distance": self.distance,
                "label": self.label, "title": self.title}  # fmt: skip


@dataclass
class QueryResult:
    query: str
    results: list[Hit]
    method: str = "hamming"

    def to_dict(self) -> dict:
        return {"query": self.query, "results": [h.to_dict() for h in self.results]}


class Queries:
    """Model-ready queries: names, inputs (uint8 pixels or sparse word counts), and the
    files that could not be used. Stored items as queries come with their own `codes` and
    a `read` that gives their inputs when a search needs them (a raw baseline, asymmetric
    distances, an item whose code is not in the opened index): a plain search by id reads
    no stored input."""

    def __init__(self, names: list[str], inputs=None, skipped=None,
                 codes: np.ndarray | None = None, read: Callable | None = None):  # fmt: skip
        self.names = names
        self.skipped: list[tuple[str, str]] = list(skipped or [])
        self.codes = codes
        self._inputs, self._read = inputs, read

    @property
    def inputs(self):
        if self._inputs is None and self._read is not None:
            self._inputs, self._read = self._read(), None
        return self._inputs


@dataclass
class Batch:
    """Results of many queries, and the query files that could not be used."""

    results: list[QueryResult]
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"results": [r.to_dict() for r in self.results],
                "skipped": [{"path": p, "reason": why} for p, why in self.skipped]}  # fmt: skip
