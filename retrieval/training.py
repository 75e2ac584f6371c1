"""Unsupervised training of a hashing autoencoder on the items of a collection."""

from __future__ import annotations

import logging
import math
import time
from dataclasses import asdict, dataclass, replace

import numpy as np
import torch

from semantic_hashing.retrieval.devices import resolve_device  # noqa: F401 (callers' import)
from semantic_hashing.retrieval.errors import SemhashError
from semantic_hashing.retrieval.kinds import KINDS, get_kind
from semantic_hashing.retrieval.models import HashingAutoencoder
from semantic_hashing.retrieval.progress import progress

log = logging.getLogger(__name__)


@dataclass
class TrainConfig:
    """How long and how to train; zeros (and negative decay) mean the kind's default.

    The default budget is counted in optimiser steps, not epochs, so that it fits any
    collection: `epochs` (the kind's default) passes over the items, but never fewer than
    `min_steps` steps (a folder of a few thousand items still trains enough; this floor
    itself stops at `max_epochs` passes, so a tiny collection is not trained for ages) and
    never more than `max_steps` (a huge one does not train forever; larger collections are
    also sampled down to `max_items`). An explicit `steps` or `epochs` is used as given.
    `resolved()` fills in every default; the resolved config is saved with the model.
    """

    epochs: int = 0  # > 0: exactly this many passes (overrides the step budget)
    steps: int = 0  # > 0: exactly this many optimiser steps
    min_steps: int = 0  # 0: the kind's floor
    max_steps: int = 0  # 0: the kind's cap
    max_epochs: int = 0  # 0: the kind's; the floor adds passes only up to this many
    batch_size: int = 0
    lr: float = 0.0
    weight_decay: float = -1.0  # < 0: the default of the model's kind
    seed: int = 0
    max_items: int = 200_000  # train on a seeded sample of larger collections

    def to_dict(self) -> dict:
        return asdict(self)

    def validate(self) -> None:
        for name in ("epochs", "steps", "min_steps", "max_steps", "max_epochs", "batch_size"):
            if getattr(self, name) < 0:
                raise SemhashError(f"the training option {name} must not be negative.")
        if self.max_items < 2:
            raise SemhashError("max_items must be at least 2.")

    def resolved(self, kind: str, n: int) -> TrainConfig:
        """A copy with every default of `kind` filled in for `n` items, and the budget
        worked out: `steps` and `epochs` (passes, rounded up) are then both set."""
        self.validate()
        d = get_kind(kind).train_defaults
        n = min(n, self.max_items)
        cfg = replace(
            self,
            batch_size=min(self.batch_size or d["batch_size"], n),
            lr=self.lr or d["lr"],
            weight_decay=self.weight_decay if self.weight_decay >= 0 else d["weight_decay"],
            min_steps=self.min_steps or d["min_steps"],
            max_steps=self.max_steps or d["max_steps"],
            max_epochs=self.max_epochs or d["max_epochs"],
        )
        per_epoch = n // cfg.batch_size  # full batches only (batch_size <= n)
        cfg.steps = self.steps or step_budget(per_epoch, self.epochs or d["epochs"], cfg,
                                              explicit=bool(self.epochs))  # fmt: skip
        cfg.epochs = math.ceil(cfg.steps / per_epoch)
        return cfg


def step_budget(per_epoch: int, epochs: int, cfg: TrainConfig, explicit: bool = False) -> int:
    """Optimiser steps for `epochs` passes of `per_epoch` steps: as asked when `explicit`,
    else at least `cfg.min_steps` (but at most `cfg.max_epochs` passes for that floor) and at
    most `cfg.max_steps`."""
    steps = epochs * per_epoch
    if explicit:
        return steps
    floor = min(cfg.min_steps, cfg.max_epochs * per_epoch)
    return max(1, min(max(steps, floor), cfg.max_steps))


# The defaults of every input kind by its name (each kind keeps its own, Kind.train_defaults).
KIND_DEFAULTS = {name: kind.train_defaults for name, kind in KINDS.items()}


def train(
    model: HashingAutoencoder, data, cfg: TrainConfig, device: torch.device | None = None
) -> dict:
    """Fit `model` on rows of `data` (uint8 images or count vectors). Returns a summary,
    with the resolved training config under "train_config".

    Labels are never seen here: the objective is reconstruction of the clean input from a
    corrupted one, plus the model's own regularisers.
    """
    n = data.shape[0]
    if n < 2:
        raise SemhashError("at least two items are needed to train a model.")
    device = device or resolve_device()
    run = cfg.resolved(model.cfg.kind, n)
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    rows = np.sort(rng.choice(n, cfg.max_items, replace=False)) if n > cfg.max_items else None
    if rows is not None:
        data, n = data[rows], len(rows)
    model.to(device).train()
    batch, steps = run.batch_size, run.steps
    opt = torch.optim.AdamW(model.parameters(), lr=run.lr, weight_decay=run.weight_decay)
    sched = _schedule(opt, get_kind(model.cfg.kind).train_defaults["schedule"], run.lr, steps)
    start, step, epoch, last = time.perf_counter(), 0, 0, {}
    log.info("training %s on %d items: %d steps of %d (%d epochs) on %s", model.cfg.model_type,
             n, steps, batch, run.epochs, describe_device(device))  # fmt: skip
    bar = progress(total=steps, desc="training", unit="batch")
    clock = _Estimate(steps)
    while step < steps:
        order, epoch = rng.permutation(n), epoch + 1
        for i in range(0, n - batch + 1, batch):
            x = model.prepare(data[np.sort(order[i : i + batch])])
            loss, parts = model.loss(x)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step() if sched.last_epoch < steps - 1 else None
            step += 1
            last = {"loss": loss.detach(), **parts}
            bar.update()
            clock.step(step)
            if step % 50 == 0:  # reading the loss waits for the device: not every step
                bar.set_postfix(epoch=epoch, loss=f"{float(last['loss']):.1f}")
            if step == steps:
                break
        log.debug("epoch %d/%d loss %.2f", epoch, run.epochs, float(last["loss"]))
    bar.close()
    model.eval()
    seconds = time.perf_counter() - start
    final = {k: float(v) for k, v in last.items()}
    return {"seconds": seconds, "items": n, "epochs": epoch, "steps": step, "lr": run.lr,
            "batch_size": batch, "device": describe_device(device), "final": final,
            "train_config": run.to_dict()}  # fmt: skip


class _Estimate:
    """Says once, early, how long the whole training will take: the step budget times the
    measured time of a few steps (the first one, which warms up, left out). Only worth
    saying for a run of a minute or more; then it also names the quick first try."""

    MEASURED = 5  # steps timed after the first
    WORTH = 60.0  # seconds

    def __init__(self, steps: int, clock=time.perf_counter):
        self.steps, self.clock, self.t0, self.said = steps, clock, None, False

    def step(self, done: int) -> None:
        if self.said:
            return
        if self.t0 is None:  # the first step's end: timing starts here
            self.t0 = self.clock()
            return
        elapsed = self.clock() - self.t0
        if done - 1 < self.MEASURED and elapsed < 5.0:
            return
        self.said = True
        per_step = elapsed / max(1, done - 1)
        total = per_step * self.steps
        if total >= self.WORTH:
            log.info("training will take about %s (%d steps at %.2f s each); for a quick "
                     "first try use --epochs 1", _duration(total),
                     self.steps, per_step)  # fmt: skip


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _schedule(opt, name: str, lr: float, steps: int):
    if name == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(
            opt, max_lr=lr, total_steps=steps, pct_start=0.15
        )
    return torch.optim.lr_scheduler.ConstantLR(opt, factor=1.0, total_iters=0)


def describe_device(device: torch.device) -> str:
    """`cuda:0 (NVIDIA H200)` or `cpu (2 threads)`, for reports."""
    if device.type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(device)})"
    return f"{device} ({torch.get_num_threads()} threads)"
