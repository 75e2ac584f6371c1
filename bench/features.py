"""Backbone features of a data set's images, extracted once and kept on disk, and the data
set as a features collection would store it (`semhash bench --features NAME`).

Extracting 60,000 images takes minutes on a small CPU, so `semhash bench --features NAME`
keeps what it extracted in the cache folder (`retrieval.datasets.cache_dir()`), one `.npy`
per array of images, keyed by the backbone's fingerprint (name, input size, dimension,
weights, pass size) and the images' bytes: a rerun reads the file instead, and an
interrupted one resumes from the blocks it kept.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time

import numpy as np

from semantic_hashing.retrieval.datasets import cache_dir
from semantic_hashing.retrieval.errors import SemhashError
from semantic_hashing.retrieval.fsutil import atomic_write
from semantic_hashing.retrieval.progress import progress

log = logging.getLogger(__name__)

BLOCK = 2048  # images extracted and kept together (an interrupted run resumes by blocks)


def cache_key(images: np.ndarray, fingerprint: dict) -> str:
    """A short hash of the backbone's fingerprint and the images (shape and bytes)."""
    digest = hashlib.sha256(json.dumps(fingerprint, sort_keys=True).encode())
    digest.update(repr(images.shape).encode())
    digest.update(np.ascontiguousarray(images).data)
    return digest.hexdigest()[:20]


def cached_features(images: np.ndarray, backbone, show: bool = True,
                    timings: dict | None = None) -> np.ndarray:  # fmt: skip
    """The backbone's float32 (N, dim) features of `images` (as the features kind extracts
    them: `retrieval.extraction.extract`), from the cache when it was done. Work in
    progress is kept in blocks, so an interrupted run resumes where it stopped."""
    from semantic_hashing.retrieval.extraction import extract

    fp = backbone.fingerprint
    folder = cache_dir() / "features"
    path = folder / f"{fp['name']}-{fp['input_size']}px-{cache_key(images, fp)}.npy"
    if path.is_file():
        feats = np.load(path)
        if feats.shape == (len(images), backbone.dim):
            log.info("features of %d images read from %s", len(images), path)
            return feats
    parts = path.with_suffix(".parts")
    parts.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    done = 0
    bar = progress(total=len(images), show=show, desc="extracting", unit="img")
    blocks = []
    for i in range(0, len(images), BLOCK):
        block = parts / f"{i:08d}.npy"
        if block.is_file():
            blocks.append(np.load(block))
        else:
            blocks.append(extract(backbone, images[i : i + BLOCK]))
            _save(block, blocks[-1])
            done += len(blocks[-1])
            if done and not show:
                log.info("extracted %d of %d images", i + len(blocks[-1]), len(images))
        bar.update(len(blocks[-1]))
    bar.close()
    feats = np.concatenate(blocks) if blocks else np.zeros((0, backbone.dim), np.float32)
    seconds = time.perf_counter() - start
    if timings is not None:
        timings["extract"] = timings.get("extract", 0.0) + seconds
    log.info("extracted %d images in %.0f s (%.1f img/s)", done, seconds,
             done / max(seconds, 1e-9))  # fmt: skip
    _save(path, feats)
    for block in parts.glob("*.npy"):
        block.unlink()
    parts.rmdir()
    return feats


def _save(path, array: np.ndarray) -> None:
    import io

    buf = io.BytesIO()
    np.save(buf, array)
    atomic_write(path, buf.getvalue())


def small_pixels(images: np.ndarray) -> np.ndarray:
    """uint8 (N, 3, 32, 32) copies of (N, C, S, S) images: what a features row keeps."""
    import torch
    from torch.nn import functional as F

    from semantic_hashing.retrieval.kinds.features import PIXELS

    if images.shape[1:] == (3, PIXELS, PIXELS):
        return np.ascontiguousarray(images)
    out = np.empty((len(images), 3, PIXELS, PIXELS), np.uint8)
    for i in range(0, len(images), 4096):
        x = torch.from_numpy(np.ascontiguousarray(images[i : i + 4096])).float()
        x = F.interpolate(x.expand(-1, 3, -1, -1), size=(PIXELS, PIXELS), mode="bilinear",
                          align_corners=False, antialias=True)  # fmt: skip
        out[i : i + 4096] = x.round().clamp(0, 255).to(torch.uint8).numpy()
    return out


def features_data(data, name: str, input_size: int = 0, timings: dict | None = None):
    """`data` (an image data set) seen through backbone `name`: a BenchData of the features
    kind whose rows are what a features collection stores (float16 features, small
    pixels), the backbone's fingerprint attached."""
    from dataclasses import replace

    from semantic_hashing.retrieval.backbones import get_backbone
    from semantic_hashing.retrieval.kinds import get_kind
    from semantic_hashing.retrieval.kinds.features import DEFAULT_INPUT_SIZE, pack

    if not get_kind(data.kind).takes_images:
        raise SemhashError(f"--features reads images; {data.kind} data has none.")
    backbone = get_backbone(name, input_size=input_size or DEFAULT_INPUT_SIZE)
    rows = {}
    for part in ("db", "q"):
        images = getattr(data, f"{part}_inputs")
        feats = cached_features(images, backbone, timings=timings)
        rows[part] = pack(feats, small_pixels(images))
    return replace(data, kind="features", db_inputs=rows["db"], q_inputs=rows["q"],
                   backbone=backbone.fingerprint)  # fmt: skip
