"""Hashing autoencoders: one base class, subclasses override `build()` only.

The base class owns what every semantic-hashing model shares: the corruption of the input
(denoising), the stochastic code layer that is pushed towards binary values, the losses and
`prepare()` that turns stored uint8 data into model input. A subclass returns its encoder
(input -> `bits` logits) and decoder (`bits` codes -> reconstruction logits).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from retrieval.errors import SemhashError


@dataclass
class ModelConfig:
    """Everything needed to rebuild a model; saved inside every checkpoint."""

    model_type: str = "conv-dae"
    kind: str = "image"  # "image" or "text"
    bits: int = 64
    channels: int = 1
    image_size: int = 28
    width: int = 32  # channels of the first conv layer; doubled at each stride
    hidden: int = 512
    corruption: str = "mask"  # "mask", "gaussian" or "none"
    corruption_level: float = 0.3  # masking probability or Gaussian std
    code_noise: float = 3.0  # std of the noise added before the code sigmoid in training
    balance_weight: float = 0.1  # penalty on bits that are not on half of the time
    vocab_size: int = 0  # text models only

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> ModelConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def validate(self) -> None:
        if not 8 <= self.bits <= 1024 or self.bits % 8:
            raise SemhashError(
                f"--bits must be a multiple of 8 between 8 and 1024, not {self.bits}."
            )
        if self.kind == "image" and self.image_size % 4:
            raise SemhashError(f"the image size must be a multiple of 4, not {self.image_size}.")
        if self.model_type not in MODEL_TYPES:
            names = ", ".join(sorted(MODEL_TYPES))
            raise SemhashError(f"unknown model type {self.model_type!r}; choose one of {names}.")


class HashingAutoencoder(nn.Module):
    """Base class: corruption, binary-ish code layer, loss. Override `build()` only."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        cfg.validate()
        self.cfg = cfg
        self.encoder, self.decoder = self.build()

    def build(self) -> tuple[nn.Module, nn.Module]:
        """Return (encoder, decoder): input -> `bits` logits, `bits` codes -> output logits."""
        raise NotImplementedError

    # -- data ---------------------------------------------------------------------------
    def prepare(self, batch: np.ndarray | torch.Tensor) -> torch.Tensor:
        """Stored uint8 pixels (N, C, H, W) -> float input in [0, 1] on the model's device."""
        x = torch.as_tensor(batch, device=self.device)
        return x.float().div_(255.0)

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def corrupt(self, x: torch.Tensor) -> torch.Tensor:
        level = self.cfg.corruption_level
        if self.cfg.corruption == "mask":
            return x * (torch.rand_like(x) >= level)
        if self.cfg.corruption == "gaussian":
            return x + level * torch.randn_like(x)
        return x

    # -- codes --------------------------------------------------------------------------
    def code_logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)

    @torch.no_grad()
    def real_codes(self, x: torch.Tensor) -> torch.Tensor:
        """Real-valued codes in (0, 1) before thresholding."""
        return torch.sigmoid(self.code_logits(x))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z, out, _ = self._run(x)
        return z, out

    def _run(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(codes z, reconstruction logits, code logits before the training noise)."""
        logits = noisy = self.code_logits(x)
        if self.training and self.cfg.code_noise > 0:
            noisy = logits + self.cfg.code_noise * torch.randn_like(logits)
        z = torch.sigmoid(noisy)
        return z, self.decoder(z), logits

    def reconstruction_loss(self, out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.binary_cross_entropy_with_logits(out, target, reduction="sum") / len(target)

    def regularizer(self, x: torch.Tensor, logits: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """A family's own penalty, added to the loss (scalar; none by default).

        `x` is the clean batch, `logits` the code logits before the training noise, `z` the
        codes the decoder saw. Sparse, contractive and variational models override this.
        """
        return x.new_zeros(())

    def loss(self, x: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        """Training loss on a clean batch `x`: reconstruct it from a corrupted copy."""
        z, out, logits = self._run(self.corrupt(x))
        recon = self.reconstruction_loss(out, x)
        balance = ((z.mean(0) - 0.5) ** 2).sum() * x[0].numel()
        reg = self.regularizer(x, logits, z)
        total = recon + self.cfg.balance_weight * balance + reg
        return total, {"recon": recon.item(), "balance": balance.item(), "reg": reg.item()}


class ConvDAE(HashingAutoencoder):
    """Convolutional denoising autoencoder (Krizhevsky & Hinton 2011, small-image version)."""

    def build(self) -> tuple[nn.Module, nn.Module]:
        c, w, s = self.cfg.channels, self.cfg.width, self.cfg.image_size // 4
        encoder = nn.Sequential(
            nn.Conv2d(c, w, 3, padding=1), nn.BatchNorm2d(w), nn.ReLU(),
            nn.Conv2d(w, 2 * w, 4, stride=2, padding=1), nn.BatchNorm2d(2 * w), nn.ReLU(),
            nn.Conv2d(2 * w, 4 * w, 4, stride=2, padding=1), nn.BatchNorm2d(4 * w), nn.ReLU(),
            nn.Flatten(),
            nn.Linear(4 * w * s * s, self.cfg.hidden), nn.ReLU(),
            nn.Linear(self.cfg.hidden, self.cfg.bits),
        )  # fmt: skip
        decoder = nn.Sequential(
            nn.Linear(self.cfg.bits, self.cfg.hidden), nn.ReLU(),
            nn.Linear(self.cfg.hidden, 4 * w * s * s), nn.ReLU(),
            nn.Unflatten(1, (4 * w, s, s)),
            nn.ConvTranspose2d(4 * w, 2 * w, 4, stride=2, padding=1),
            nn.BatchNorm2d(2 * w), nn.ReLU(),
            nn.ConvTranspose2d(2 * w, w, 4, stride=2, padding=1), nn.BatchNorm2d(w), nn.ReLU(),
            nn.Conv2d(w, c, 3, padding=1),
        )  # fmt: skip
        return encoder, decoder


MODEL_TYPES: dict[str, type[HashingAutoencoder]] = {"conv-dae": ConvDAE}


def build_model(cfg: ModelConfig) -> HashingAutoencoder:
    cfg.validate()
    return MODEL_TYPES[cfg.model_type](cfg)


# The other families subclass the base in retrieval/families.py and add themselves to
# MODEL_TYPES; importing them here, once the base exists, keeps the registry complete.
from retrieval import families  # noqa: E402, F401
