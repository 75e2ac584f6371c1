"""Autoencoder families for comparison: each overrides `build()`, some `regularizer()`.

    ae              undercomplete MLP autoencoder, no input corruption
    sparse-ae       the same with a KL sparsity penalty on the code activations
    contractive-ae  the same with the analytic Jacobian penalty of the code layer
    vae             variational: Gaussian latent, KL term; the code is the mean, thresholded
    conv-dae        convolutional denoising autoencoder (retrieval.models.ConvDAE)

Every family shares the base class's hashing machinery (code layer, bit balance, and the
quantiser of retrieval.codes, thermometer by default), so the comparison isolates
architecture and regulariser. The MLP families use
the semantic-hashing code layer (noise before a sigmoid); conv-dae keeps its linear code.
A family's own config defaults (no corruption for the MLP families, no code noise for the
VAE, which samples its own) live in `config_defaults`; build configs with `family_config`.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from semantic_hashing.retrieval.models import MODEL_TYPES, ConvDAE, HashingAutoencoder, ModelConfig


def _input_shape(cfg: ModelConfig) -> tuple[int, ...]:
    if cfg.kind == "text":
        return (cfg.vocab_size,)
    return (cfg.channels, cfg.image_size, cfg.image_size)


def _mlp(sizes: list[int]) -> list[nn.Module]:
    """Linear layers with ReLU between them (none after the last)."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes, sizes[1:], strict=False)):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return layers


class MLPAutoencoder(HashingAutoencoder):
    """Undercomplete autoencoder: input -> hidden -> hidden/2 -> bits, mirrored back."""

    config_defaults: dict = {"corruption": "none", "code_layer": "noise"}

    def hidden_sizes(self) -> list[int]:
        shape = _input_shape(self.cfg)
        return [math.prod(shape), self.cfg.hidden, self.cfg.hidden // 2]

    def build(self) -> tuple[nn.Module, nn.Module]:
        sizes, shape = self.hidden_sizes(), _input_shape(self.cfg)
        encoder = nn.Sequential(nn.Flatten(), *_mlp(sizes), nn.ReLU(), self.code_head(sizes[-1]))
        decoder = nn.Sequential(*_mlp([self.cfg.bits, *sizes[::-1]]), nn.Unflatten(1, shape))
        return encoder, decoder

    def code_head(self, width: int) -> nn.Module:
        return nn.Linear(width, self.cfg.bits)


class SparseAE(MLPAutoencoder):
    """KL sparsity (Ng's sparse autoencoder): each code unit is active on average `target`
    of the time. Bit balance is off: it contradicts sparsity, and the quantiser's
    thresholds sit at quantiles of the codes anyway."""

    config_defaults = {"corruption": "none", "code_layer": "noise", "balance_weight": 0.0}
    target = 0.1
    weight = 0.02  # per input element, like the base's balance penalty

    def regularizer(self, x, logits, z):
        rate = z.mean(0).clamp(1e-6, 1 - 1e-6)
        t = self.target
        kl = t * torch.log(t / rate) + (1 - t) * torch.log((1 - t) / (1 - rate))
        return self.weight * x[0].numel() * kl.sum()


class ContractiveAE(MLPAutoencoder):
    """Contractive penalty on the code layer h = sigmoid(W a + b): the squared Frobenius
    norm of dh/da, sum_j (h_j (1 - h_j))^2 ||W_j||^2, averaged over the batch."""

    config_defaults = {"corruption": "none", "code_layer": "noise"}
    weight = 0.05  # per input element

    def regularizer(self, x, logits, z):
        h = torch.sigmoid(logits)
        w2 = self.encoder[-1].weight.pow(2).sum(1)  # ||W_j||^2 per code unit
        return self.weight * x[0].numel() * ((h * (1 - h)) ** 2 @ w2).mean()


class GaussianHead(nn.Module):
    """Mean and log-variance of the latent; samples in training, returns the mean in eval.
    Keeps the batch's KL(q(z|x) || N(0, I)) in `self.kl` for the regulariser."""

    def __init__(self, width: int, bits: int):
        super().__init__()
        self.mean = nn.Linear(width, bits)
        self.logvar = nn.Linear(width, bits)
        self.kl = torch.zeros(())

    def forward(self, a: torch.Tensor) -> torch.Tensor:
        mu, logvar = self.mean(a), self.logvar(a).clamp(-10, 10)
        self.kl = 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum(1).mean()
        if not self.training:
            return mu
        return mu + torch.randn_like(mu) * (0.5 * logvar).exp()


class VAE(MLPAutoencoder):
    """Variational autoencoder with a Gaussian latent. The decoder reads sigmoid(z), an
    invertible reparametrisation; the code is the mean, quantised like the others."""

    config_defaults = {"corruption": "none", "code_layer": "noise", "code_noise": 0.0}
    weight = 1.0  # the ELBO's KL weight

    def code_head(self, width: int) -> nn.Module:
        return GaussianHead(width, self.cfg.bits)

    def regularizer(self, x, logits, z):
        return self.weight * self.encoder[-1].kl


FAMILIES: dict[str, type[HashingAutoencoder]] = {
    "ae": MLPAutoencoder,
    "sparse-ae": SparseAE,
    "contractive-ae": ContractiveAE,
    "vae": VAE,
    "conv-dae": ConvDAE,
}
MODEL_TYPES.update(FAMILIES)


def family_config(model_type: str, **fields) -> ModelConfig:
    """A config for `model_type` with the family's own defaults, then `fields` on top."""
    cls = MODEL_TYPES.get(model_type)
    defaults = getattr(cls, "config_defaults", {})
    cfg = ModelConfig(model_type=model_type, **{**defaults, **fields})
    cfg.validate()
    return cfg
