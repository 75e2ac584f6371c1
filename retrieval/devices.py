"""Which torch device runs a model: `auto`, `cpu` or `cuda`, refused in one sentence."""

from __future__ import annotations

from semantic_hashing.retrieval.errors import SemhashError


def resolve_device(name: str = "auto"):
    """`auto` picks the GPU when one is present, else the CPU (a torch.device)."""
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise SemhashError(f"unknown device {name!r}; use auto, cpu or cuda.") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SemhashError("--device cuda was asked for, but no GPU is available here.")
    return device
