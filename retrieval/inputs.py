"""Model input modules: how a kind's stored rows are fed to a hashing autoencoder and how
its reconstructions are scored. Each input kind names its module (`Kind.input_module`).

    ImageInput  uint8 pixels -> [0, 1]; Bernoulli (cross-entropy) likelihood
    CountInput  word counts -> log(1 + counts) (or TF-IDF); multinomial over the vocabulary
    FeatureInput  backbone features (stored float16 in each row) -> standardised; squared
                error (a Gaussian likelihood); outliers by the cosine of the reconstruction
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from semantic_hashing.retrieval.errors import SemhashError


def to_device(array: np.ndarray, device: torch.device) -> torch.Tensor:
    """A host batch onto `device`; to a GPU through pinned memory, without waiting for it."""
    array = np.ascontiguousarray(array)
    tensor = torch.from_numpy(array if array.flags.writeable else array.copy())
    if device.type != "cuda":
        return tensor
    return tensor.pin_memory().to(device, non_blocking=True)


class ImageInput(nn.Module):
    """uint8 pixels (N, C, H, W) -> floats in [0, 1]; Bernoulli (cross-entropy) likelihood."""

    def __init__(self, cfg):
        super().__init__()

    def prepare(self, batch, device: torch.device) -> torch.Tensor:
        return to_device(np.asarray(batch), device).float().div_(255.0)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def loss(self, out: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return self.item_loss(out, x).mean()

    def item_loss(self, out: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Each item's reconstruction loss (the outlier score); `loss` is their mean."""
        return F.binary_cross_entropy_with_logits(out, x, reduction="none").flatten(1).sum(1)

    def item_error(self, out: torch.Tensor, x: torch.Tensor, metric: str) -> torch.Tensor:
        """Each item's reconstruction error: the training loss ("loss"), or the mean squared
        error of the pixels in [0, 1] ("mse")."""
        if metric == "mse":
            return ((torch.sigmoid(out) - x) ** 2).flatten(1).mean(1)
        return self.item_loss(out, x)


class CountInput(nn.Module):
    """Word counts (N, vocab), dense or scipy sparse. The encoder reads log(1 + counts)
    (`input_weighting` "log"), or those times the IDF, L2-normalised ("tfidf", the
    baseline's own weighting); the decoder's softmax is a multinomial over the vocabulary
    (as in the constrained Poisson model), fitted to the counts weighted by `word_weight`
    (the IDF, set from the training documents)."""

    def __init__(self, cfg):
        super().__init__()
        self.weighting = cfg.input_weighting
        self.register_buffer("word_weight", torch.ones(cfg.vocab_size))

    def prepare(self, batch, device: torch.device) -> torch.Tensor:
        dense = batch.toarray() if hasattr(batch, "toarray") else np.asarray(batch)
        return to_device(np.asarray(dense, dtype=np.float32), device)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        logs = torch.log1p(x)
        if self.weighting == "tfidf":
            return F.normalize(logs * self.word_weight, dim=1)
        return logs

    def loss(self, out: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return self.item_loss(out, x).mean()

    def item_loss(self, out: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Each document's cross-entropy against its weighted word distribution."""
        target = x * self.word_weight
        mass = target.sum(1).clamp(min=1e-6)
        return -(target * F.log_softmax(out, 1)).sum(1) / mass

    def item_error(self, out: torch.Tensor, x: torch.Tensor, metric: str) -> torch.Tensor:
        """Each document's reconstruction error: the training loss (no other metric)."""
        if metric == "mse":
            raise SemhashError("--metric mse applies to image collections; text uses the loss.")
        return self.item_loss(out, x)


class FeatureInput(nn.Module):
    """Rows of the features kind (`retrieval.kinds.features`: `feature_dim` float16 backbone
    features, then the item's small pixels, as one uint8 row) -> the features standardised
    by the training items' mean and standard deviation (buffers set before training, so
    kept in the checkpoint and its fingerprint); the decoder's output is scored by the
    squared error in those units, halved (a Gaussian likelihood of unit variance)."""

    def __init__(self, cfg):
        super().__init__()
        self.dim = cfg.feature_dim
        self.register_buffer("mean", torch.zeros(cfg.feature_dim))
        self.register_buffer("std", torch.ones(cfg.feature_dim))

    def prepare(self, batch, device: torch.device) -> torch.Tensor:

        from semantic_hashing.retrieval.kinds.feature_rows import unpack_features

        feats = to_device(unpack_features(np.asarray(batch), self.dim), device)
        return (feats - self.mean) / self.std

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def loss(self, out: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return self.item_loss(out, x).mean()

    def item_loss(self, out: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Each item's reconstruction loss (the outlier score): half its squared error."""
        return 0.5 * (out - x).pow(2).sum(1)

    def item_error(self, out: torch.Tensor, x: torch.Tensor, metric: str) -> torch.Tensor:
        """Each item's reconstruction error, the outlier score: ("loss") 1 - the cosine of
        the features and their reconstruction, both back in the backbone's units (the
        geometry features are compared in: their baseline, duplicate verification), or
        ("mse") the mean squared error of the standardised features.

        Why not the training loss: a black frame's features lie near the collection's mean
        in standardised units (the network barely fires), so the model reconstructs them
        well; their direction is what is unlike a photo's. Among 150 CIFAR-10 photos the
        squared error ranked a black frame last and a screenshot 28th; the cosine ranks
        them first and second."""
        if metric == "mse":
            return (out - x).pow(2).mean(1)
        feats, recon = x * self.std + self.mean, out * self.std + self.mean
        return 1 - F.cosine_similarity(recon, feats, dim=1, eps=1e-8)
