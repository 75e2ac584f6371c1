"""Hash lookup over distinct codes: multi-index hashing that stores each code once.

Learned codes repeat: near-identical images get identical codes, and at millions of items
a few codes are shared by thousands. A hash table over items puts all of them in the
query's bucket, and every lookup re-ranks them one by one. Here the FAISS
`IndexBinaryMultiHash` holds each distinct code once (its label is the code's number), and
a CSR table maps a code to the ids of its items, sorted:

    members[starts[j]:starts[j + 1]]   ids of the items whose code is distinct code j

The address of table t is made of bits t, t + nhash, t + 2 nhash, ... (interleaved), not of
a contiguous run: thermometer codes keep each principal component's bits together, strong
components first, so contiguous substrings would give one table all the coarse, correlated
bits (crowded buckets) and another the weak ones. On 1M Fashion-MNIST codes interleaving cut
the mean bucket load of 2 x 32-bit tables from 1,357 + 15 to 107 + 90 items. Hamming
distance does not depend on bit order, so codes are stored and compared in this order.

A top-k query asks the hash tables for the k nearest distinct codes (k codes hold at least
k items), expands them to their items in (distance, id) order and keeps k. Distances are
exact Hamming distances of the full code; like any hash lookup the result is approximate
(an item outside every probed bucket is not seen), with the same guarantee as multi-index
hashing: every item within nhash * (radius + 1) - 1 bits of the query (on the hashed bits)
is found.
"""

from __future__ import annotations

import io
from pathlib import Path

import faiss
import numpy as np

from semantic_hashing.indexer.binary_index import check_codes
from semantic_hashing.retrieval.errors import SemhashError
from semantic_hashing.retrieval.fsutil import atomic_write


def distinct(codes: np.ndarray, ids: np.ndarray):
    """(distinct codes (U, bytes), starts (U + 1,), members (N,)): the items of distinct code
    j are members[starts[j]:starts[j + 1]], in increasing id order."""
    codes = np.ascontiguousarray(codes, dtype=np.uint8)
    if not len(codes):
        return codes, np.zeros(1, np.int64), np.zeros(0, np.int64)
    rows = codes.view(f"V{codes.shape[1]}").ravel()
    uniq, inverse, counts = np.unique(rows, return_inverse=True, return_counts=True)
    order = np.lexsort((ids, inverse))
    starts = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    table = np.frombuffer(uniq.tobytes(), dtype=np.uint8).reshape(len(uniq), codes.shape[1])
    return table.copy(), starts, np.asarray(ids, dtype=np.int64)[order]


def address_order(bits: int, nhash: int, b: int) -> np.ndarray:
    """Bit permutation putting bits t, t + nhash, ... first for table t (then the rest)."""
    tables = [np.arange(t, nhash * b, nhash) for t in range(nhash)]
    used = np.concatenate(tables) if tables else np.zeros(0, int)
    return np.concatenate([used, np.setdiff1d(np.arange(bits), used)]).astype(np.int64)


def permute(codes: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Packed codes with their bits reordered by `order`."""
    unpacked = np.unpackbits(np.ascontiguousarray(codes, dtype=np.uint8), axis=1)
    return np.ascontiguousarray(np.packbits(unpacked[:, order], axis=1))


class DistinctHashIndex:
    """Multi-index hashing over distinct codes, answering with item ids (see module doc)."""

    def __init__(self, bits: int, index, starts: np.ndarray, members: np.ndarray):
        self.bits, self.index = bits, index  # `index`: the IndexBinaryMultiHash
        self.starts, self.members = starts, members
        self.order = address_order(bits, index.nhash, index.b)

    @classmethod
    def build(cls, bits: int, codes: np.ndarray, ids: np.ndarray, nhash: int, b: int):
        table, starts, members = distinct(codes, ids)
        out = cls(bits, faiss.IndexBinaryMultiHash(bits, nhash, b), starts, members)
        chunk = 1 << 20  # permuting unpacks 8 bytes per bit: a million codes at a time
        for i in range(0, len(table), chunk):
            out.index.add(permute(table[i : i + chunk], out.order))
        return out

    def __len__(self) -> int:
        return len(self.members)

    @property
    def n_distinct(self) -> int:
        return len(self.starts) - 1

    def _check(self, codes: np.ndarray) -> np.ndarray:
        """Query codes, checked, in the tables' bit order."""
        return permute(check_codes(codes, self.bits), self.order)

    def _expand(self, d: np.ndarray, j: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Items of distinct codes `j` at distances `d`, sorted by (distance, id)."""
        counts = self.starts[j + 1] - self.starts[j]
        first = np.repeat(self.starts[j] - np.cumsum(counts) + counts, counts)
        ids = self.members[first + np.arange(counts.sum())]
        dist = np.repeat(d, counts)
        order = np.lexsort((ids, dist))
        return dist[order].astype(np.int32), ids[order]

    def search(self, codes: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-k items: (D int32 (Q, k), I int64 (Q, k)), rows sorted by (distance, id);
        -1 ids (and distance bits + 1) where fewer than k items were found."""
        codes = self._check(codes)
        k = max(1, min(k, len(self)))
        D = np.full((len(codes), k), self.bits + 1, dtype=np.int32)
        I = np.full((len(codes), k), -1, dtype=np.int64)
        if not len(self):
            return D, I
        Du, Iu = self.index.search(codes, min(k, self.n_distinct))
        for q in range(len(codes)):
            found = Iu[q] >= 0
            d, j = Du[q][found], Iu[q][found]
            if not len(j):
                continue
            order = np.lexsort((j, d))
            d, j = d[order], j[order]
            counts = self.starts[j + 1] - self.starts[j]
            enough = np.searchsorted(np.cumsum(counts), k)  # codes up to here hold k items
            if enough < len(j):  # keep every code tied with the k-th item's distance
                j, d = j[d <= d[enough]], d[d <= d[enough]]
            dist, ids = self._expand(d, j)
            D[q, : min(k, len(ids))], I[q, : min(k, len(ids))] = dist[:k], ids[:k]
        return D, I

    def range_search(self, codes: np.ndarray, radius: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """All items within Hamming distance <= radius found in the probed buckets."""
        codes = self._check(codes)
        if not len(self):
            return [(np.zeros(0, np.int32), np.zeros(0, np.int64)) for _ in codes]
        lims, D, J = self.index.range_search(codes, radius + 1)  # FAISS keeps d < radius
        return [self._expand(D[lims[q] : lims[q + 1]], J[lims[q] : lims[q + 1]])
                for q in range(len(codes))]  # fmt: skip

    def nbytes(self) -> int:
        """Memory of the tables: hash index, distinct codes and the id table."""
        mih = len(faiss.serialize_index_binary(self.index))
        return mih + self.starts.nbytes + self.members.nbytes

    # -- files --------------------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        buf = io.BytesIO()
        np.savez(buf, faiss=faiss.serialize_index_binary(self.index), starts=self.starts,
                 members=self.members, bits=np.int64(self.bits))  # fmt: skip
        atomic_write(Path(path), buf.getvalue())

    @classmethod
    def load(cls, path: str | Path) -> DistinctHashIndex:
        try:
            with np.load(Path(path)) as f:
                index = faiss.deserialize_index_binary(f["faiss"])
                return cls(int(f["bits"]), index, f["starts"], f["members"])
        except (OSError, ValueError, KeyError, RuntimeError) as exc:
            raise SemhashError(f"cannot read the index file {path} ({exc}).") from None
