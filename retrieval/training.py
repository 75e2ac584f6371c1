"""Unsupervised training of a hashing autoencoder on the items of a collection."""

from __future__ import annotations

import logging
import math
import time
from dataclasses import asdict, dataclass

import numpy as np
import torch

from retrieval.errors import SemhashError
from retrieval.models import HashingAutoencoder
from retrieval.progress import progress

log = logging.getLogger(__name__)


@dataclass
class TrainConfig:
    epochs: int = 0  # 0: the default of the model's kind (KIND_DEFAULTS)
    batch_size: int = 0
    lr: float = 0.0
    weight_decay: float = -1.0  # < 0: the default of the model's kind
    seed: int = 0
    max_items: int = 200_000  # train on a seeded sample of larger collections

    def to_dict(self) -> dict:
        return asdict(self)


KIND_DEFAULTS = {
    "image": {
        "epochs": 6,
        "batch_size": 256,
        "lr": 2e-3,
        "weight_decay": 1e-4,
        "schedule": "onecycle",
    },
    "text": {
        "epochs": 20,
        "batch_size": 100,
        "lr": 1e-3,
        "weight_decay": 0.0,
        "schedule": "constant",
    },
}


def resolve_device(name: str = "auto") -> torch.device:
    """`auto` picks the GPU when one is present, else the CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise SemhashError(f"unknown device {name!r}; use auto, cpu or cuda.") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SemhashError("--device cuda was asked for, but no GPU is available here.")
    return device


def train(
    model: HashingAutoencoder, data, cfg: TrainConfig, device: torch.device | None = None
) -> dict:
    """Fit `model` on rows of `data` (uint8 images or count vectors). Returns a summary.

    Labels are never seen here: the objective is reconstruction of the clean input from a
    corrupted one, plus the model's own regularisers.
    """
    n = data.shape[0]
    if n < 2:
        raise SemhashError("at least two items are needed to train a model.")
    device = device or resolve_device()
    defaults = KIND_DEFAULTS[model.cfg.kind]
    epochs = cfg.epochs or defaults["epochs"]
    lr, batch = cfg.lr or defaults["lr"], cfg.batch_size or defaults["batch_size"]
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    rows = np.sort(rng.choice(n, cfg.max_items, replace=False)) if n > cfg.max_items else None
    if rows is not None:
        data, n = data[rows], len(rows)
    model.to(device).train()
    batch = min(batch, n)
    steps = epochs * math.ceil(n / batch)
    decay = cfg.weight_decay if cfg.weight_decay >= 0 else defaults["weight_decay"]
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=decay)
    if defaults["schedule"] == "onecycle":
        sched = torch.optim.lr_scheduler.OneCycleLR(
            opt, max_lr=lr, total_steps=steps, pct_start=0.15
        )
    else:
        sched = torch.optim.lr_scheduler.ConstantLR(opt, factor=1.0, total_iters=0)
    start, last = time.perf_counter(), {}
    bar = progress(total=steps, desc="training", unit="batch")
    for epoch in range(epochs):
        order = rng.permutation(n)
        for i in range(0, n - batch + 1 if n >= batch else 1, batch):
            x = model.prepare(data[np.sort(order[i : i + batch])])
            loss, parts = model.loss(x)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step() if sched.last_epoch < steps - 1 else None
            last = {"loss": loss.item(), **parts}
            bar.update()
            bar.set_postfix(epoch=epoch + 1, loss=f"{last['loss']:.1f}")
        log.info("epoch %d/%d loss %.2f", epoch + 1, epochs, last.get("loss", float("nan")))
    bar.close()
    model.eval()
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "items": n, "epochs": epochs, "lr": lr, "batch_size": batch,
            "final": last}  # fmt: skip
