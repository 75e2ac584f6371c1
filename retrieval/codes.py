"""From a trained autoencoder to packed binary codes, and the checkpoint that keeps both.

A `HashEncoder` bundles the model with the quantiser fitted on the real codes of the
training items (`ModelConfig.threshold`):

    median       bit i = real code i above its median: every bit splits the collection in half
    half         bit i = real code i above 0.5, the code layer's own decision
    thermometer  the real code is projected on its principal components; each gets bits in
                 proportion to its strength (none for the weakest), thresholded at equally
                 spaced quantiles, so the Hamming distance between two items counts the
                 quantile steps between them along each component (multi-bit "thermometer"
                 quantisation: a large difference on a strong component costs more than a
                 sign flip on a weak one)
    itq          iterative quantisation (Gong & Lazebnik 2011) on the whitened principal
                 components: the rotation that puts the items closest to the corners of the
                 hypercube, one bit per component, every bit a balanced cut

Every mode is `bits = real @ projection > thresholds` (projection None means the identity).
Codes follow FAISS conventions: `uint8` arrays of `bits // 8` bytes per item, bit order as
`np.packbits`.
"""

from __future__ import annotations

import hashlib
import io
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from semantic_hashing.retrieval import __version__
from semantic_hashing.retrieval.asymmetric import LevelTable, bit_groups, fit_levels
from semantic_hashing.retrieval.errors import SemhashError
from semantic_hashing.retrieval.families import build_model
from semantic_hashing.retrieval.fsutil import atomic_write
from semantic_hashing.retrieval.models import HashingAutoencoder, ModelConfig
from semantic_hashing.retrieval.progress import progress
from semantic_hashing.retrieval.training import resolve_device

log = logging.getLogger(__name__)

CHECKPOINT_FORMAT = 1


def pack_bits(bits: np.ndarray) -> np.ndarray:
    """Boolean (N, bits) -> uint8 (N, bits // 8), FAISS binary layout."""
    return np.packbits(np.asarray(bits, dtype=bool), axis=1)


def hamming(a: np.ndarray, b: np.ndarray, chunk: int = 256) -> np.ndarray:
    """Brute-force popcount Hamming distances between packed codes: (len(a), len(b)) int32."""
    out = np.empty((len(a), len(b)), dtype=np.int32)
    for i in range(0, len(a), chunk):
        xor = np.bitwise_xor(a[i : i + chunk, None, :], b[None, :, :])
        out[i : i + chunk] = np.bitwise_count(xor).sum(axis=2, dtype=np.int32)
    return out


def split_points(values: np.ndarray, quantiles) -> np.ndarray:
    """Thresholds that put about a share `q` of `values` (N, D) below them, column by column,
    each placed midway in a gap between two neighbouring values that really differ, never on
    a value: an item's code then does not flip when it is encoded alone instead of in a batch
    (matrix products round differently by batch size, in the last bits), nor do copies of
    one file (equal values) straddle a cut."""
    values = np.sort(np.asarray(values, dtype=np.float64), axis=0)
    n = len(values)
    qs = np.atleast_1d(np.asarray(quantiles, dtype=np.float64))
    if n < 2:
        return np.repeat(values[:1], len(qs), axis=0)
    ks = np.clip(np.rint(qs * n).astype(int), 1, n - 1)
    if values.ndim == 1:
        return _cut(values, ks)
    return np.stack([_cut(values[:, j], ks) for j in range(values.shape[1])], axis=1)


# Neighbouring values closer than this (relative) count as one: encoding noise is ~1e-7.
SAME_VALUE = 1e-5


def _cut(column: np.ndarray, ks: np.ndarray) -> np.ndarray:
    """Midpoints of the real gaps (sorted `column`) nearest to the cut positions `ks`; with
    no real gap at all, a cut above every value."""
    gaps = np.diff(column) > SAME_VALUE * np.maximum(1.0, np.abs(column[1:]))
    where = np.flatnonzero(gaps) + 1  # cut positions k with column[k-1] < column[k]
    if not len(where):
        return np.full(len(ks), column[-1] + max(1.0, abs(column[-1])))
    i = np.clip(np.searchsorted(where, ks), 1, len(where)) - 1
    up = np.clip(i + 1, 0, len(where) - 1)
    k = np.where(np.abs(where[up] - ks) < np.abs(where[i] - ks), where[up], where[i])
    return (column[k - 1] + column[k]) / 2


def thermometer(real: np.ndarray, bits: int) -> tuple[np.ndarray, np.ndarray]:
    """(projection (D, bits), thresholds (bits,)) of thermometer codes on the principal
    components of `real`. Bits are handed out one at a time to the component whose
    quantisation error the bit reduces most (variance / levels^2, the classic bit
    allocation), so strong components get several bits and weak ones none; a component
    with t bits is cut at its quantiles k / (t + 1), k = 1..t."""
    real = np.asarray(real, dtype=np.float64)
    centred = real - real.mean(axis=0)
    values, vectors = np.linalg.eigh(centred.T @ centred / max(len(real) - 1, 1))
    order = np.argsort(values)[::-1]
    variance, vectors = np.maximum(values[order], 0), vectors[:, order]
    alloc = np.zeros(len(variance), dtype=int)
    for _ in range(bits):
        gain = variance / (alloc + 1) ** 2 - variance / (alloc + 2) ** 2
        alloc[int(np.argmax(gain))] += 1
    used = np.flatnonzero(alloc)
    projected = real @ vectors[:, used]
    thresholds = np.concatenate([
        split_points(projected[:, j], np.arange(1, t + 1) / (t + 1))
        for j, t in enumerate(alloc[used])
    ])  # fmt: skip
    projection = vectors[:, np.repeat(used, alloc[used])]
    return projection.astype(np.float32), thresholds.astype(np.float32)


def itq(real: np.ndarray, bits: int, iterations: int = 50, seed: int = 0):
    """(projection (D, bits), thresholds (bits,)) of ITQ on the whitened principal
    components of `real` (D >= bits): bit k = ((real - mean) @ W @ R)[k] > 0, with R the
    orthogonal rotation that minimises the quantisation error ||B - V R||, alternated with
    B = sign(V R) for `iterations` rounds from a seeded random rotation."""
    real = np.asarray(real, dtype=np.float64)
    if real.shape[1] < bits:
        raise SemhashError(f"itq needs at least {bits} real dimensions, not {real.shape[1]}.")
    mean = real.mean(axis=0)
    centred = real - mean
    values, vectors = np.linalg.eigh(centred.T @ centred / max(len(real) - 1, 1))
    top = np.argsort(values)[::-1][:bits]
    whiten = vectors[:, top] / np.sqrt(np.maximum(values[top], 1e-12))
    v = centred @ whiten
    rotation = np.linalg.qr(np.random.default_rng(seed).standard_normal((bits, bits)))[0]
    for _ in range(iterations):
        u, _, wt = np.linalg.svd(v.T @ np.sign(v @ rotation))
        rotation = u @ wt
    projection = (whiten @ rotation).astype(np.float32)
    # each bit cut at the mean, moved into the gap between the items around it
    projected = real.astype(np.float32) @ projection
    below = (projected < mean.astype(np.float32) @ projection).mean(axis=0)
    cuts = [split_points(projected[:, j], [below[j]])[0] for j in range(bits)]
    return projection, np.asarray(cuts, dtype=np.float32)


@dataclass
class HashEncoder:
    """A trained model plus thresholds: maps stored items to packed binary codes."""

    model: HashingAutoencoder
    thresholds: np.ndarray | None = None
    projection: np.ndarray | None = None  # (real dims, bits); None: each bit its own dim
    extra: dict = field(default_factory=dict)  # e.g. the vocabulary of a text model
    batch_size: int = 1024
    train_info: dict = field(default_factory=dict)  # how it was trained (resolved TrainConfig)
    # the configuration as its checkpoint recorded it: fields added to ModelConfig since
    # then take their defaults but must not change the fingerprint of an older model
    saved_config: dict | None = None
    # per-level centroids for asymmetric distances (`retrieval.asymmetric`); None for a
    # model saved before they existed. They do not change the codes, so not the fingerprint.
    levels: LevelTable | None = None

    @property
    def config(self) -> ModelConfig:
        return self.model.cfg

    @property
    def bits(self) -> int:
        return self.model.cfg.bits

    @torch.no_grad()
    def real(self, data, show_progress: bool = False) -> np.ndarray:
        """Real-valued codes (N, bits) float32 in (0, 1), before thresholding."""
        self.model.eval()
        out = []
        starts = range(0, data.shape[0], self.batch_size)
        for i in progress(starts, desc="encoding", unit="batch", show=show_progress):
            x = self.model.prepare(data[i : i + self.batch_size])
            out.append(self.model.real_codes(x).float().cpu().numpy())
        if not out:
            return np.zeros((0, self.bits), dtype=np.float32)
        return np.concatenate(out)

    def fit_thresholds(self, real: np.ndarray) -> np.ndarray:
        """Fit the quantiser (`config.threshold`) on the real codes of the training items."""
        mode, self.projection = self.config.threshold, None
        if len(real) == 0:
            raise SemhashError("cannot fit code thresholds on an empty collection.")
        if mode == "half":
            self.thresholds = np.full(real.shape[1], 0.5, dtype=np.float32)
        elif mode == "thermometer":
            self.projection, self.thresholds = thermometer(real, self.bits)
        elif mode == "itq":
            self.projection, self.thresholds = itq(real, self.bits)
        else:
            self.thresholds = split_points(real, [0.5])[0].astype(np.float32)
        groups = bit_groups(self.projection, self.bits)
        self.levels = fit_levels(self.project(real), self.thresholds, groups)
        return self.thresholds

    def project(self, real: np.ndarray) -> np.ndarray:
        """Real codes in the quantiser's space (the values its thresholds cut)."""
        real = np.asarray(real, dtype=np.float32)
        return real if self.projection is None else real @ self.projection

    def binarize(self, real: np.ndarray) -> np.ndarray:
        if self.thresholds is None:
            raise RuntimeError("thresholds are not fitted; call fit_thresholds first")
        return pack_bits(self.project(real) > self.thresholds)

    def query_values(self, real: np.ndarray) -> np.ndarray:
        """Unquantised queries on the level table's groups, for asymmetric distances."""
        if self.levels is None:
            raise SemhashError(
                "this model was saved before asymmetric re-ranking existed; train a new one "
                "(semhash train) and re-encode with semhash index --model MODEL --rebuild."
            )
        return self.levels.query_values(self.project(real))

    def encode(self, data, show_progress: bool = False) -> np.ndarray:
        """Packed uint8 codes (N, bits // 8)."""
        return self.binarize(self.real(data, show_progress))

    def config_dict(self) -> dict:
        """The configuration as saved: as its checkpoint recorded it, for a loaded model."""
        return self.saved_config if self.saved_config is not None else self.config.to_dict()

    def fingerprint(self) -> str:
        """A short hash of weights, thresholds and config: two encoders with the same
        fingerprint produce the same codes."""
        digest = hashlib.sha256(repr(sorted(self.config_dict().items())).encode())
        for name, tensor in sorted(self.model.state_dict().items()):
            digest.update(name.encode())
            digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
        for array in (self.thresholds, self.projection):
            if array is not None:
                digest.update(array.tobytes())
        return digest.hexdigest()[:16]

    # -- checkpoint ---------------------------------------------------------------------
    def save(self, path: str | Path, train_info: dict | None = None) -> None:
        ckpt = {
            "format": CHECKPOINT_FORMAT,
            "config": self.config_dict(),
            "state_dict": {k: v.cpu() for k, v in self.model.state_dict().items()},
            "thresholds": torch.from_numpy(self.thresholds)
            if self.thresholds is not None
            else None,
            "projection": None if self.projection is None else torch.from_numpy(self.projection),
            "extra": self.extra,
            "levels": None
            if self.levels is None
            else {
                "groups": torch.from_numpy(self.levels.groups),
                "centroids": torch.from_numpy(self.levels.centroids),
            },
            "train": train_info or self.train_info,
            "versions": {"semhash": __version__, "torch": str(torch.__version__)},
        }
        buf = io.BytesIO()
        torch.save(ckpt, buf)
        atomic_write(Path(path), buf.getvalue())

    @classmethod
    def load(cls, path: str | Path, device: torch.device | str = "cpu") -> HashEncoder:
        path = Path(path)
        if not path.is_file():
            raise SemhashError(f"model file {path} does not exist.")
        try:
            ckpt = torch.load(path, map_location="cpu", weights_only=True)
            cfg = ModelConfig.from_dict(ckpt["config"])
            model = build_model(cfg)
            model.load_state_dict(ckpt["state_dict"])
            levels = _levels(ckpt.get("levels"), cfg.bits)
        except SemhashError:
            raise
        except Exception as exc:  # torch raises many types for a bad file
            raise SemhashError(f"{path} is not a semhash model checkpoint ({exc}).") from None
        model.to(resolve_device(str(device))).eval()
        th, proj = ckpt.get("thresholds"), ckpt.get("projection")
        return cls(model, None if th is None else th.numpy(),
                   None if proj is None else proj.numpy(), ckpt.get("extra") or {},
                   train_info=ckpt.get("train") or {},
                   saved_config=dict(ckpt["config"]), levels=levels)  # fmt: skip


def _levels(saved: dict | None, bits: int) -> LevelTable | None:
    """The checkpoint's level table, checked against the code length (ValueError if not)."""
    if saved is None:
        return None
    table = LevelTable(saved["groups"].numpy().astype(np.int64), saved["centroids"].numpy())
    if (
        table.groups.shape != (bits,)
        or table.groups.min() < 0
        or (table.groups.max() >= len(table.centroids))
    ):
        raise ValueError(f"its level table does not fit {bits}-bit codes")
    return table
