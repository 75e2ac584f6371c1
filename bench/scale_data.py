"""Data for the scale benchmark: a real model's codes on Fashion-MNIST, grown to millions.

The first 60,000 codes are the model's codes of the training images. Items after them are
augmented training images (random shift of up to 2 pixels, horizontal flip, pixel noise)
encoded by the same model, for as long as an encoding time budget allows; the rest are drawn
from a fitted code distribution (k-means clusters of the real codes, independent per-bit
probabilities inside each cluster). The report says how many of each every size holds.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import faiss
import numpy as np

from semantic_hashing.retrieval.codes import HashEncoder, pack_bits
from semantic_hashing.retrieval.progress import progress

log = logging.getLogger(__name__)

CHUNK = 8192


def augment(images: np.ndarray, rng: np.random.Generator, shift: int = 2, noise: float = 8.0):
    """Shift each (N, 1, S, S) uint8 image by up to `shift` pixels, flip half of them left to
    right, add Gaussian pixel noise."""
    n, _, s, _ = images.shape
    padded = np.pad(images[:, 0], ((0, 0), (shift, shift), (shift, shift)))
    rows = rng.integers(0, 2 * shift + 1, n)[:, None] + np.arange(s)
    cols = rng.integers(0, 2 * shift + 1, n)[:, None] + np.arange(s)
    out = padded[np.arange(n)[:, None, None], rows[:, :, None], cols[:, None, :]]
    flip = rng.random(n) < 0.5
    out[flip] = out[flip, :, ::-1]
    out = out.astype(np.float32) + rng.normal(0, noise, out.shape).astype(np.float32)
    return np.clip(out, 0, 255).astype(np.uint8)[:, None]


def augmented_chunks(base: np.ndarray, count: int, seed: int = 0) -> Iterator[np.ndarray]:
    """`count` augmented images in chunks; item j augments base[j % len(base)]. The same
    seed gives the same images, so the raw baseline can regenerate them without storing."""
    for c, start in enumerate(range(0, count, CHUNK)):
        rows = np.arange(start, min(count, start + CHUNK)) % len(base)
        yield augment(base[rows], np.random.default_rng([seed, c]))


@dataclass
class EncodedAugmentations:
    codes: np.ndarray
    seconds: float
    rate: float  # images per second, augmentation included


def encode_augmented(
    encoder: HashEncoder, base: np.ndarray, wanted: int, budget_s: float, seed: int = 0
) -> EncodedAugmentations:
    """Encode augmented images until `wanted` are done or `budget_s` seconds have passed."""
    out, done, start = [], 0, time.perf_counter()
    bar = progress(total=wanted, desc="encoding augmented", unit="img")
    for chunk in augmented_chunks(base, wanted, seed):
        out.append(encoder.encode(chunk))
        done += len(chunk)
        bar.update(len(chunk))
        if time.perf_counter() - start > budget_s:
            break
    bar.close()
    seconds = time.perf_counter() - start
    codes = np.concatenate(out) if out else np.zeros((0, encoder.bits // 8), np.uint8)
    log.info("encoded %d augmented images in %.0f s (%.0f img/s)", done, seconds, done / seconds)
    return EncodedAugmentations(codes, seconds, done / max(seconds, 1e-9))


@dataclass
class FittedCodes:
    """Per-cluster bit probabilities of real codes; draws new codes like them."""

    probs: np.ndarray  # (clusters, bits) probability of each bit being 1
    weights: np.ndarray  # (clusters,) share of the real codes in each cluster
    info: dict = field(default_factory=dict)

    @classmethod
    def fit(cls, codes: np.ndarray, clusters: int = 1024, seed: int = 0) -> FittedCodes:
        bits = np.unpackbits(codes, axis=1).astype(np.float32)
        km = faiss.Kmeans(bits.shape[1], clusters, niter=20, seed=seed, verbose=False)
        km.train(bits)
        _, assign = km.index.search(bits, 1)
        counts = np.bincount(assign[:, 0], minlength=clusters).astype(np.float64)
        ones = np.zeros((clusters, bits.shape[1]))
        np.add.at(ones, assign[:, 0], bits)
        probs = (ones + 0.5) / (counts[:, None] + 1.0)  # smoothed: no bit is ever certain
        info = {"clusters": clusters, "fitted_on": len(codes), "method": "kmeans-bernoulli"}
        return cls(probs.astype(np.float32), counts / counts.sum(), info)

    def sample(self, n: int, seed: int = 0, chunk: int = 1 << 20) -> np.ndarray:
        out = []
        for c, start in enumerate(range(0, n, chunk)):
            rng = np.random.default_rng([seed, 7, c])
            size = min(chunk, n - start)
            which = rng.choice(len(self.weights), size, p=self.weights)
            out.append(pack_bits(rng.random((size, self.probs.shape[1]), np.float32)
                                 < self.probs[which]))  # fmt: skip
        return np.concatenate(out) if out else np.zeros((0, self.probs.shape[1] // 8), np.uint8)


def grow_codes(real: np.ndarray, total: int, fitted: FittedCodes | None, seed: int = 0):
    """The first `total` codes: all real ones first, then fitted samples."""
    if total <= len(real):
        return real[:total]
    extra = fitted.sample(total - len(real), seed)
    return np.concatenate([real, extra])
