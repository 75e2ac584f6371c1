"""The model families and their one registry: each family's name, the kinds it serves and
its config defaults. Each family overrides `build()`, some `regularizer()`.

    conv-dae        convolutional denoising autoencoder (retrieval.models.ConvDAE): images
    bow-ae          deep bag-of-words autoencoder (retrieval.models.BowAE): text
    feature-dae     denoising MLP autoencoder over standardised backbone features, with the
                    semantic-hashing code layer (noise before a sigmoid): features
    ae              undercomplete MLP autoencoder, no input corruption: any kind
    sparse-ae       the same with a KL sparsity penalty on the code activations
    contractive-ae  the same with the analytic Jacobian penalty of the code layer
    vae             variational: Gaussian latent, KL term; the code is the mean, thresholded

Every family shares the base class's hashing machinery (code layer, bit balance, and the
quantiser of retrieval.codes, thermometer by default), so the comparison isolates
architecture and regulariser. The MLP families use the semantic-hashing code layer (noise
before a sigmoid) and take the input shape of whatever kind they are trained on; conv-dae
keeps its linear code. A family's own config defaults (no corruption for the MLP families,
no code noise for the VAE, which samples its own) are registered with it; build configs with
`family_config` and models with `build_model`. A checkpoint keeps its config, so a model is
rebuilt with `build_model(ModelConfig.from_dict(saved))`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import nn

from semantic_hashing.retrieval.errors import SemhashError
from semantic_hashing.retrieval.kinds import get_kind
from semantic_hashing.retrieval.models import BowAE, ConvDAE, HashingAutoencoder, ModelConfig


def _input_shape(cfg: ModelConfig) -> tuple[int, ...]:
    return get_kind(cfg.kind).input_shape(cfg)


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

    weight = 1.0  # the ELBO's KL weight

    def code_head(self, width: int) -> nn.Module:
        return GaussianHead(width, self.cfg.bits)

    def regularizer(self, x, logits, z):
        return self.weight * self.encoder[-1].kl


class FeatureDAE(MLPAutoencoder):
    """Denoising autoencoder over a backbone's standardised features: the input corrupted
    (Gaussian noise by default), two hidden layers down to the code, whose logits get the
    semantic-hashing noise before the sigmoid in training, and back up to the features."""


@dataclass(frozen=True)
class Family:
    """One model family: its class, the input kinds it is made for (none: any kind, the
    input shape coming from the kind) and its own ModelConfig defaults."""

    name: str
    model: type[HashingAutoencoder]
    kinds: tuple[str, ...] = ()
    defaults: dict = field(default_factory=dict)

    def serves(self, kind: str) -> bool:
        return not self.kinds or kind in self.kinds


_MLP = {"corruption": "none", "code_layer": "noise"}
# Measured on CIFAR-10 through efficientnet-lite0 (docs/benchmarks.md): median cuts beat
# ITQ and the thermometer on these near-binary codes (64-bit P@100 0.518 against 0.404 and
# 0.409), a 512-wide model trained 1,500 steps matched a 1,024-wide one trained 5,850, and
# heavy input noise (std 3 in standardised units) lifted P@100 from 0.523 (std 0.5) to 0.542.
FEATURE_DAE = {"corruption": "gaussian", "corruption_level": 3.0, "code_layer": "noise",
               "code_noise": 3.0, "hidden": 512, "threshold": "median"}  # fmt: skip
REGISTRY: dict[str, Family] = {f.name: f for f in (
    Family("conv-dae", ConvDAE, kinds=("image",)),
    Family("bow-ae", BowAE, kinds=("text",)),
    Family("feature-dae", FeatureDAE, kinds=("features",), defaults=FEATURE_DAE),
    Family("ae", MLPAutoencoder, defaults=_MLP),
    Family("sparse-ae", SparseAE, defaults={**_MLP, "balance_weight": 0.0}),
    Family("contractive-ae", ContractiveAE, defaults=_MLP),
    Family("vae", VAE, defaults={**_MLP, "code_noise": 0.0}),
)}  # fmt: skip
MODEL_TYPES: dict[str, type[HashingAutoencoder]] = {n: f.model for n, f in REGISTRY.items()}
# The families compared on images (`bench --methods ae:all`).
FAMILIES = {n: f.model for n, f in REGISTRY.items() if f.serves("image")}


def get_family(name: str) -> Family:
    if name not in REGISTRY:
        names = ", ".join(sorted(REGISTRY))
        raise SemhashError(f"unknown model type {name!r}; choose one of {names}.")
    return REGISTRY[name]


def check(cfg: ModelConfig) -> None:
    """Refuse a config that names no family or kind, a family made for another kind, or
    an invalid config (in that order: the family's kind first, then its settings)."""
    family = get_family(cfg.model_type)
    get_kind(cfg.kind)  # an unknown kind: its own sentence
    if not family.serves(cfg.kind):
        home = " or ".join(family.kinds)
        raise SemhashError(
            f"{cfg.model_type} is the {home} model; {cfg.kind} data takes another family."
        )
    cfg.validate()


def family_config(model_type: str, **fields) -> ModelConfig:
    """A config for `model_type` with the family's own defaults, then `fields` on top."""
    defaults = REGISTRY[model_type].defaults if model_type in REGISTRY else {}
    cfg = ModelConfig(model_type=model_type, **{**defaults, **fields})
    check(cfg)
    return cfg


def build_model(cfg: ModelConfig) -> HashingAutoencoder:
    check(cfg)
    return get_family(cfg.model_type).model(cfg)
