"""Hashing autoencoders: one base class, subclasses override `build()` only.

The base class owns what every semantic-hashing model shares: the corruption of the input
(denoising), the stochastic code layer that is pushed towards binary values, the losses and
`prepare()` that turns stored rows into model input (through the input module its kind
names, `retrieval.inputs`). A subclass returns its encoder (input -> `bits` logits) and
decoder (`bits` codes -> reconstruction logits). The families and their registry, with
`build_model` and `family_config`, are in `retrieval.families`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

import torch
from torch import nn
from torch.nn import functional as F

from semantic_hashing.retrieval.errors import SemhashError
from semantic_hashing.retrieval.kinds import get_kind
from semantic_hashing.retrieval.params import DEFAULT_BITS, check_bits

THRESHOLDS = ("median", "half", "thermometer", "itq")
WEIGHTINGS = ("log", "tfidf")


@dataclass
class ModelConfig:
    """Everything needed to rebuild a model; saved inside every checkpoint."""

    model_type: str = "conv-dae"  # a family of retrieval.families
    kind: str = "image"  # an input kind of retrieval.kinds
    bits: int = DEFAULT_BITS
    channels: int = 1
    image_size: int = 28
    width: int = 32  # channels of the first conv layer; doubled at each stride
    hidden: int = 256
    corruption: str = "shift"  # "shift" (shifts, flips), "augment", "mask", "gaussian", "none"
    corruption_level: float = 3.0  # shift in pixels, masking probability or Gaussian std
    code_layer: str = "linear"  # "linear", "noise" (sigmoid of noisy logits), "bernoulli"
    code_noise: float = 3.0  # std of the noise before the sigmoid ("noise" code layer)
    balance_weight: float = 0.0  # penalty on bits that are not on for half of the items
    threshold: str = "thermometer"  # quantiser (retrieval.codes): thermometer, median, half, itq
    vocab_size: int = 0  # text models only
    input_weighting: str = "log"  # text: "log" (log 1 + count) or "tfidf" (times IDF, unit norm)
    decoder_layers: int = 1  # bow-ae: hidden layers of the decoder (0: softmax of a linear map)
    consistency_weight: float = 0.0  # > 0: two corrupted views must give the same code
    feature_dim: int = 0  # features kind: the backbone's feature width (the model's input)
    backbone: dict = field(default_factory=dict)  # features kind: the backbone's fingerprint

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> ModelConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def validate(self) -> None:
        check_bits(self.bits)
        get_kind(self.kind).check_config(self)  # an unknown kind: one sentence too
        if self.input_weighting not in WEIGHTINGS:
            raise SemhashError(f"unknown input weighting {self.input_weighting!r}; choose one "
                               f"of {', '.join(WEIGHTINGS)}.")  # fmt: skip
        if not 0 <= self.decoder_layers <= 4:
            raise SemhashError(f"decoder_layers must be 0 to 4, not {self.decoder_layers}.")
        if self.threshold not in THRESHOLDS:
            raise SemhashError(
                f"unknown threshold {self.threshold!r}; choose one of {', '.join(THRESHOLDS)}."
            )


def shift_and_flip(x: torch.Tensor, shift: int) -> torch.Tensor:
    """Each image of a batch moved by up to `shift` pixels (zero padding) and mirrored
    left-right with probability 1/2."""
    n, c, h, w = x.shape
    dev = x.device
    padded = F.pad(x, (shift, shift, shift, shift))
    dy = torch.randint(0, 2 * shift + 1, (n,), device=dev)
    dx = torch.randint(0, 2 * shift + 1, (n,), device=dev)
    rows = (dy[:, None] + torch.arange(h, device=dev))[:, None, :, None]
    cols = (dx[:, None] + torch.arange(w, device=dev))[:, None, None, :]
    out = padded[torch.arange(n, device=dev)[:, None, None, None],
                 torch.arange(c, device=dev)[None, :, None, None], rows, cols]  # fmt: skip
    flip = (torch.rand(n, device=dev) < 0.5)[:, None, None, None]
    return torch.where(flip, out.flip(-1), out)


def augment(x: torch.Tensor, strength: float = 1.0) -> torch.Tensor:
    """Each image of a batch cropped (60-100% of the side) and resized back, mirrored with
    probability 1/2, its brightness, contrast and (colour) saturation jittered by up to
    40% x `strength`, and for colour images made gray with probability 0.2: the views of
    contrastive learning, batched on the model's device."""
    n, c, h, w = x.shape
    dev = x.device
    scale = 1 - 0.4 * torch.rand(n, device=dev)
    shift = (1 - scale)[:, None] * (2 * torch.rand(n, 2, device=dev) - 1)
    flip = torch.where(torch.rand(n, device=dev) < 0.5, -1.0, 1.0)
    theta = torch.zeros(n, 2, 3, device=dev)
    theta[:, 0, 0], theta[:, 1, 1] = scale * flip, scale
    theta[:, :, 2] = shift
    grid = F.affine_grid(theta, (n, c, h, w), align_corners=False)
    out = F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    jitter = lambda: 1 + 0.4 * strength * (2 * torch.rand(n, 1, 1, 1, device=dev) - 1)  # noqa: E731
    out = out * jitter()
    mean = out.mean(dim=(1, 2, 3), keepdim=True)
    out = mean + (out - mean) * jitter()
    if c == 3:
        gray = out.mean(dim=1, keepdim=True)
        out = gray + (out - gray) * jitter()
        out = torch.where(torch.rand(n, 1, 1, 1, device=dev) < 0.2, gray.expand_as(out), out)
    return out.clamp(0, 1)


class HashingAutoencoder(nn.Module):
    """Base class: input handling, corruption, binary code layer, loss. Override `build()`;
    a family with a penalty of its own also overrides `regularizer()`."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        cfg.validate()
        self.cfg = cfg
        self.inputs = get_kind(cfg.kind).input_module(cfg)
        self.encoder, self.decoder = self.build()

    def build(self) -> tuple[nn.Module, nn.Module]:
        """Return (encoder, decoder): input -> `bits` logits, `bits` codes -> output logits."""
        raise NotImplementedError

    def regularizer(self, x: torch.Tensor, logits: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """A family's own penalty, added to the loss (scalar; none by default).

        `x` is the clean batch, `logits` the code logits, `z` the codes the decoder saw.
        Sparse, contractive and variational models override this.
        """
        return x.new_zeros(())

    # -- data ---------------------------------------------------------------------------
    def prepare(self, batch) -> torch.Tensor:
        """Stored items (uint8 pixels or word counts) -> model input on the model's device."""
        return self.inputs.prepare(batch, self.device)

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def corrupt(self, x: torch.Tensor) -> torch.Tensor:
        level = self.cfg.corruption_level
        if self.cfg.corruption == "mask":
            return x * (torch.rand_like(x) >= level)
        if self.cfg.corruption == "gaussian":
            return x + level * torch.randn_like(x)
        if self.cfg.corruption == "shift":
            return shift_and_flip(x, int(level))
        if self.cfg.corruption == "augment":
            return augment(x, level)
        return x

    # -- codes --------------------------------------------------------------------------
    def code_logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(self.inputs.features(x))

    @torch.no_grad()
    def real_codes(self, x: torch.Tensor) -> torch.Tensor:
        """Real-valued codes in (0, 1) before thresholding."""
        return torch.sigmoid(self.code_logits(x))

    def binary_ish(self, logits: torch.Tensor) -> torch.Tensor:
        """The code the decoder sees: the logits themselves ("linear"), or in training a
        code pushed towards 0/1: a straight-through Bernoulli sample (value 0 or 1, gradient
        of the probability), or the sigmoid of noisy logits (semantic-hashing noise)."""
        if self.cfg.code_layer == "linear":
            return logits
        q = torch.sigmoid(logits)
        if not self.training:
            return q
        if self.cfg.code_layer == "bernoulli":
            return q + (torch.bernoulli(q) - q).detach()
        if self.cfg.code_noise > 0:
            return torch.sigmoid(logits + self.cfg.code_noise * torch.randn_like(logits))
        return q

    def _run(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(codes z, reconstruction logits, code logits)."""
        logits = self.code_logits(x)
        z = self.binary_ish(logits)
        return z, self.decoder(z), logits

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z, out, _ = self._run(x)
        return z, out

    def loss(self, x: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        """Training loss on a clean batch `x`: reconstruct it from a corrupted copy, keep
        every bit on for about half of the items, plus the family's own penalty."""
        z, out, logits = self._run(self.corrupt(x))
        recon = self.inputs.loss(out, x)
        balance = ((torch.sigmoid(logits).mean(0) - 0.5) ** 2).sum()
        reg = self.regularizer(x, logits, z)
        total = recon + self.cfg.balance_weight * balance + reg
        parts = {"recon": recon, "balance": balance, "reg": reg}  # tensors: no host sync
        if self.cfg.consistency_weight > 0:
            parts["consistency"] = view_consistency(logits, self.code_logits(self.corrupt(x)))
            total = total + self.cfg.consistency_weight * parts["consistency"]
        return total, {k: v.detach() for k, v in parts.items()}


def view_consistency(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """VICReg-style agreement of the code logits of two views of the same items: equal
    codes (mean squared difference), every code unit spread (unit standard deviation at
    least) and units decorrelated (off-diagonal covariance), which makes balanced,
    independent bits."""
    invariance = F.mse_loss(a, b)
    spread = sum(F.relu(1 - torch.sqrt(v.var(0) + 1e-4)).mean() for v in (a, b))
    covariance = a.new_zeros(())
    for v in (a, b):
        c = torch.cov(v.T)
        covariance = covariance + (c.pow(2).sum() - c.diagonal().pow(2).sum()) / v.shape[1]
    return invariance + spread + 0.04 * covariance


def _conv(c_in: int, c_out: int) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(c_out),
            nn.ReLU()]  # fmt: skip


class ConvDAE(HashingAutoencoder):
    """Convolutional denoising autoencoder (after Krizhevsky & Hinton 2011, for small images):
    three stride-2 conv layers and a batch-normed hidden layer down to the code, an MLP back
    up to the pixels. The corruption (default: random shifts and flips) is what it denoises."""

    def build(self) -> tuple[nn.Module, nn.Module]:
        c, w, size = self.cfg.channels, self.cfg.width, self.cfg.image_size
        s = size
        for _ in range(3):  # each stride-2 layer halves the side, rounding up
            s = (s + 1) // 2
        encoder = nn.Sequential(
            *_conv(c, w), *_conv(w, 2 * w), *_conv(2 * w, 4 * w), nn.Flatten(),
            nn.Linear(4 * w * s * s, self.cfg.hidden, bias=False),
            nn.BatchNorm1d(self.cfg.hidden), nn.ReLU(),
            nn.Linear(self.cfg.hidden, self.cfg.bits),
        )  # fmt: skip
        decoder = nn.Sequential(
            nn.Linear(self.cfg.bits, 2 * self.cfg.hidden), nn.ReLU(),
            nn.Linear(2 * self.cfg.hidden, c * size * size), nn.Unflatten(1, (c, size, size)),
        )  # fmt: skip
        return encoder, decoder


class BowAE(HashingAutoencoder):
    """Deep bag-of-words autoencoder (Salakhutdinov & Hinton 2009, "Semantic hashing"):
    two hidden layers down to the code; back up through `decoder_layers` hidden layers (0:
    the log-linear decoder of VDSH and NASH, softmax(W z + b))."""

    def build(self) -> tuple[nn.Module, nn.Module]:
        v, h, bits = self.cfg.vocab_size, self.cfg.hidden, self.cfg.bits
        encoder = nn.Sequential(
            nn.Linear(v, h), nn.ReLU(), nn.Linear(h, h), nn.ReLU(), nn.Linear(h, bits)
        )
        sizes = [bits] + [h] * self.cfg.decoder_layers
        layers: list[nn.Module] = []
        for a, b in zip(sizes, sizes[1:], strict=False):
            layers += [nn.Linear(a, b), nn.ReLU()]
        decoder = nn.Sequential(*layers, nn.Linear(sizes[-1], v))
        return encoder, decoder
