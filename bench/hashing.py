"""Classic binary-code baselines, fitted on database features only (FAISS does the work).

    lsh   random rotation to `bits` dimensions, each bit thresholded at its median over the
          database (faiss.IndexLSH with rotate_data and train_thresholds)
    pca   projection on the top `bits` principal components, sign (faiss.PCAMatrix)
    itq   PCA then the iterative-quantisation rotation of Gong & Lazebnik, sign
          (faiss.ITQTransform)

Every hasher returns packed `uint8` codes of `bits // 8` bytes, ready for IndexBinaryFlat.
"""

from __future__ import annotations

import faiss
import numpy as np

from semantic_hashing.retrieval.codes import pack_bits
from semantic_hashing.retrieval.errors import SemhashError
from semantic_hashing.retrieval.params import check_bits


def _f32(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(x, dtype=np.float32)


class Hasher:
    """fit(database features) once, then encode(features) -> packed uint8 codes."""

    def __init__(self, bits: int, seed: int = 0):
        self.bits, self.seed = check_bits(bits), seed

    def fit(self, x: np.ndarray) -> Hasher:
        raise NotImplementedError

    def encode(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError


class LSHHasher(Hasher):
    def fit(self, x: np.ndarray) -> LSHHasher:
        self.index = faiss.IndexLSH(x.shape[1], self.bits, True, True)
        self.index.rrot.init(self.seed)  # the rotation follows --seed, not FAISS's fixed one
        self.index.train(_f32(x))
        return self

    def encode(self, x: np.ndarray) -> np.ndarray:
        return self.index.sa_encode(_f32(x))


class _ProjectionHasher(Hasher):
    """A FAISS linear transform to `bits` dimensions, then the sign of each output."""

    def transform(self, d: int) -> faiss.LinearTransform:
        raise NotImplementedError

    def fit(self, x: np.ndarray) -> _ProjectionHasher:
        if self.bits > x.shape[1]:
            raise SemhashError(
                f"{self.bits} bits need at least {self.bits} feature dimensions; "
                f"the data have {x.shape[1]}."
            )
        self.matrix = self.transform(x.shape[1])
        self.matrix.train(_f32(x))
        return self

    def encode(self, x: np.ndarray) -> np.ndarray:
        return pack_bits(self.matrix.apply(_f32(x)) > 0)


class PCAHasher(_ProjectionHasher):
    def transform(self, d: int) -> faiss.LinearTransform:
        return faiss.PCAMatrix(d, self.bits)


class ITQHasher(_ProjectionHasher):
    def transform(self, d: int) -> faiss.LinearTransform:
        itq = faiss.ITQTransform(d, self.bits, True)
        itq.itq.seed = self.seed
        return itq


HASHERS: dict[str, type[Hasher]] = {"lsh": LSHHasher, "pca": PCAHasher, "itq": ITQHasher}
