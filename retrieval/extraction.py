"""Running a frozen backbone (`retrieval.backbones`) over many images on every core.

One loaded network per (name, input size, pass size, device) in a process, shared by
indexing, queries and the server; passes spread over a pool of one-thread workers."""

from __future__ import annotations

import threading

from semantic_hashing.retrieval.errors import SemhashError

_BACKBONES: dict = {}  # (name, input size, batch, device) -> Backbone (the network, loaded)
_LOCK = threading.Lock()


def shared_backbone(name: str, input_size: int, batch_size: int | None, device: str):
    """One loaded backbone per (name, input size, pass size, device) in this process."""
    from semantic_hashing.retrieval.backbones import DEFAULT_BATCH, get_backbone

    key = (name, input_size, batch_size or DEFAULT_BATCH, device)
    with _LOCK:
        if key not in _BACKBONES:
            _BACKBONES[key] = get_backbone(name, input_size=input_size, device=device,
                                           batch_size=key[2])  # fmt: skip
        return _BACKBONES[key]


def extract(backbone, images):
    """Features of uint8 images, on every core: each pass of the backbone's batch size runs
    on one thread of a pool, each pool thread running torch on one thread of its own.

    One file must get one code however it comes, and oneDNN picks its kernels by batch size
    and thread count: every pass holds `batch_size` images (the backbone pads) and runs on
    one thread, so features do not depend on the caller's thread settings (the server runs
    one thread per query) nor on how many cores there are. One thread per pass is also what
    a busy machine needs: measured on 2 cores under a load of 9, two torch threads on one
    pass ran 7.8 images per CPU-second, one thread 93 (threads that wait for each other
    spin while the other is descheduled)."""
    import numpy as np

    n, b = len(images), backbone.batch_size
    if n == 0 or str(backbone.device) != "cpu":  # a GPU takes the passes in turn
        return backbone.extract(images)
    backbone.load()  # once, before the threads share it
    passes = _pool().map(lambda s: backbone.extract(images[s : s + b]), range(0, n, b))
    return np.concatenate(list(passes))


_POOL: list = []


def _pool():
    """The extraction threads (one per core), each with torch on one thread."""
    from concurrent.futures import ThreadPoolExecutor

    from semantic_hashing.retrieval.pool import cores

    with _LOCK:
        if not _POOL:
            _POOL.append(ThreadPoolExecutor(cores(), thread_name_prefix="semhash-backbone",
                                            initializer=_one_thread))  # fmt: skip
        return _POOL[0]


def _one_thread() -> None:
    import torch

    torch.set_num_threads(1)


def check_fingerprint(backbone, recorded: dict) -> None:
    """Refuse features from weights other than those a model was trained on."""
    live = backbone.fingerprint
    if any(live.get(k) != recorded.get(k) for k in ("name", "input_size", "dim",
                                                     "weights_sha256")):  # fmt: skip
        raise SemhashError(
            f"the {live['name']} weights installed here ({live['weights_sha256']}) are not "
            f"those the model was trained with ({recorded.get('weights_sha256')}); install "
            "those, or index the photos again with a new model."
        )
