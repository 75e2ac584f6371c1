"""Duplicate groups: their data (members, groups, the items taking part) and how verified
pairs become groups (stars around a kept item, exact copies as one class)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from semantic_hashing.retrieval.codes import hamming
from semantic_hashing.retrieval.kinds import Kind


@dataclass
class Member:
    """One item of a group; distance (Hamming) and similarity are to the kept item."""

    id: int | None
    path: str
    distance: int = 0
    similarity: float | None = None
    exact: bool = False  # the same file bytes as the kept item
    label: str = ""

    def to_dict(self) -> dict:
        return {"id": self.id, "path": self.path, "distance": self.distance,
                "similarity": self.similarity, "exact": self.exact,
                "label": self.label}  # fmt: skip


@dataclass
class DuplicateGroup:
    keep: Member
    duplicates: list[Member]

    def to_dict(self) -> dict:
        keep = {k: v for k, v in self.keep.to_dict().items() if k in ("id", "path", "label")}
        return {"keep": keep, "duplicates": [m.to_dict() for m in self.duplicates]}

    @property
    def members(self) -> list[Member]:
        return [self.keep, *self.duplicates]


@dataclass
class Items:
    """Items taking part in a dedup: ids (None for loose files), paths, codes, inputs."""

    ids: np.ndarray
    paths: list[str]
    codes: np.ndarray
    inputs: object
    sha256: list[str]
    labels: list[str] = field(default_factory=list)
    size: np.ndarray | None = None  # bytes on disk
    mtime: np.ndarray | None = None
    pixels: np.ndarray | None = None


def star_groups(items: Items, near: tuple, exact: list[tuple], rule: str):
    """(kept position, member positions) of each group. Items with the same bytes are one
    class (union-find: sameness is transitive). Likeness is not (a chain of alike pairs
    joins unlike ends: on 60,000 Fashion-MNIST items the connected components of the
    verified pairs chained 48,671 items into groups), so each group is a star: in the order
    of the keep rule, an item not yet grouped is kept with its own class and every class
    with a verified pair to it."""
    n = len(items.ids)
    a = np.concatenate([e[0] for e in exact]) if exact else np.zeros(0, np.int64)
    b = np.concatenate([e[1] for e in exact]) if exact else np.zeros(0, np.int64)
    same = sparse.coo_matrix((np.ones(len(a), np.int8), (a, b)), shape=(n, n))
    _, cls = connected_components(same, directed=False)
    by_class: dict[int, list[int]] = {}
    for pos, c in enumerate(cls.tolist()):
        by_class.setdefault(c, []).append(pos)
    na, nb = near
    adj = sparse.coo_matrix((np.ones(2 * len(na), np.int8),
                             (np.r_[na, nb], np.r_[nb, na])), shape=(n, n)).tocsr()  # fmt: skip
    grouped = np.zeros(n, dtype=bool)
    out = []
    for u in keep_order(items, rule):
        if grouped[u]:
            continue
        members = [u]
        for v in [u, *adj.indices[adj.indptr[u] : adj.indptr[u + 1]].tolist()]:
            members += [w for w in by_class[int(cls[v])] if not grouped[w] and w != u]
            grouped[by_class[int(cls[v])]] = True
        grouped[u] = True
        if len(members) > 1:
            out.append((int(u), np.array(sorted(set(members)), dtype=np.int64)))
    return sorted(out, key=lambda g: int(g[1].min()))


def keep_order(items: Items, rule: str) -> list[int]:
    """Positions in the order the keep rule prefers them (ties: lowest id first)."""
    pos = np.arange(len(items.ids))
    if rule == "largest" and items.size is not None:
        return np.lexsort((pos, -items.size, -items.pixels)).tolist()
    if rule == "oldest" and items.mtime is not None:
        return np.lexsort((pos, items.mtime)).tolist()
    return pos.tolist()


def exact_pairs(sha256: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Positions (first, other) of items sharing a non-empty sha256: a star per hash."""
    first: dict[str, int] = {}
    a, b = [], []
    for pos, digest in enumerate(sha256):
        if not digest:
            continue
        if digest in first:
            a.append(first[digest])
            b.append(pos)
        else:
            first[digest] = pos
    return np.array(a, dtype=np.int64), np.array(b, dtype=np.int64)


def member(items: Items, pos: int, distance: int, sim, exact: bool) -> Member:
    item_id = None if items.ids[pos] < 0 else int(items.ids[pos])
    label = items.labels[pos] if items.labels else ""
    sim = None if sim is None else round(float(sim), 4)
    return Member(item_id, items.paths[pos], int(distance), sim, exact, label)


@dataclass
class Known:
    """Similarities already measured (the verification's), by unordered pair of positions:
    a group takes its kept-vs-member similarities from here instead of computing them
    again (which took a third of a dedup's time on the 20,000-item bench)."""

    n: int  # positions are below n
    keys: np.ndarray  # lo * n + hi of each pair, sorted
    sims: np.ndarray

    @classmethod
    def of(cls, n: int, pa: np.ndarray, pb: np.ndarray, sims: np.ndarray | None) -> Known:
        if sims is None:
            return cls(n, np.zeros(0, np.int64), np.zeros(0, np.float32))
        keys = _pair_keys(n, pa, pb)
        order = np.argsort(keys, kind="stable")
        return cls(n, keys[order], np.asarray(sims, np.float32)[order])

    def lookup(self, keep: int, rest: np.ndarray) -> np.ndarray:
        """Similarities of (keep, r) for r in rest; NaN where not measured."""
        out = np.full(len(rest), np.nan, np.float32)
        if len(self.keys):
            keys = _pair_keys(self.n, np.full(len(rest), keep), rest)
            at = np.minimum(np.searchsorted(self.keys, keys), len(self.keys) - 1)
            found = self.keys[at] == keys
            out[found] = self.sims[at[found]]
        return out


def _pair_keys(n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.minimum(a, b).astype(np.int64) * n + np.maximum(a, b)


def group_of(kind: Kind, items: Items, members: np.ndarray, keep: int,
             known: Known | None = None) -> DuplicateGroup:  # fmt: skip
    """The group of `members` around `keep`, each member with its distance and similarity
    to the kept item (from `known` where verification measured it, else computed now:
    exact copies and members that joined through their copy class)."""
    rest = np.array([m for m in np.sort(members) if m != keep], dtype=np.int64)
    dist = hamming(items.codes[[keep]], items.codes[rest])[0]
    sims = None
    if items.inputs is not None:
        sims = (
            known.lookup(keep, rest)
            if known is not None
            else np.full(len(rest), np.nan, np.float32)
        )
        todo = np.isnan(sims)
        if todo.any():
            kept = np.full(int(todo.sum()), keep)
            sims[todo] = kind.pair_similarity(items.inputs, items.inputs, kept, rest[todo])
    dups = [member(items, int(m), dist[j], None if sims is None else sims[j],
                   bool(items.sha256[m]) and items.sha256[m] == items.sha256[keep])
            for j, m in enumerate(rest)]  # fmt: skip
    dups.sort(key=lambda m: (-(m.similarity if m.similarity is not None else 2), m.distance))
    return DuplicateGroup(member(items, keep, 0, 1.0 if sims is not None else None, True), dups)
