"""A reproducible folder of large photos for the indexing benchmark, made from Fashion-MNIST.

Each photo is one Fashion-MNIST image upscaled (bicubic) to camera size, tinted with a
seeded colour and given seeded pixel noise (0.7 to 1.1 MB per 6 MP JPEG at quality 90,
as a phone photo), in ten class folders. The same seed gives the same files; a folder already
made is reused.
"""

from __future__ import annotations

import functools
import logging
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from semantic_hashing.retrieval.pool import cores

log = logging.getLogger(__name__)

NOISE = 8  # +- grey levels of uniform noise
FLOOR = 32  # lifts the black background, so that its noise is not clipped away


@dataclass(frozen=True)
class PhotoSet:
    name: str
    width: int
    height: int
    format: str  # a Pillow format name
    suffix: str
    share: float  # files as a share of the bench's --photos


SETS = {s.name: s for s in [
    PhotoSet("jpeg-6mp", 3000, 2000, "JPEG", ".jpg", 1.0),
    PhotoSet("jpeg-24mp", 6000, 4000, "JPEG", ".jpg", 0.25),
    PhotoSet("png-6mp", 3000, 2000, "PNG", ".png", 0.25),
    PhotoSet("heic-6mp", 3000, 2000, "HEIF", ".heic", 0.1),
]}  # fmt: skip


def heif_available() -> bool:
    try:
        import pillow_heif

        pillow_heif.register_heif_opener()
        return True
    except ImportError:
        return False


@functools.cache
def _noise(width: int, height: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(-NOISE, NOISE + 1, (height, width, 3), dtype=np.int16)


def render(gray: np.ndarray, width: int, height: int, seed: int) -> Image.Image:
    """One 28x28 image as a width x height colour photo (seeded tint, shifted noise)."""
    rng = np.random.default_rng(seed)
    big = Image.fromarray(gray).resize((width, height), Image.Resampling.BICUBIC)
    tint = rng.integers(120, 257, 3).astype(np.int32)
    arr = FLOOR + ((np.asarray(big, np.int32)[..., None] * tint) >> 8)  # 255 * 256: int32
    shift = rng.integers(0, [height, width])
    arr += np.roll(_noise(width, height, 0), tuple(shift), axis=(0, 1))
    return Image.fromarray(arr.clip(0, 255).astype(np.uint8))


def _write(job: tuple) -> None:
    gray, spec, seed, path = job
    if spec.format == "HEIF":
        heif_available()
    options = {"JPEG": {"quality": 90}, "PNG": {"compress_level": 1}, "HEIF": {"quality": 80}}
    render(gray, spec.width, spec.height, seed).save(path, spec.format, **options[spec.format])


def make_photo_folder(dest: Path, spec: PhotoSet, n: int, seed: int = 0) -> Path:
    """`n` photos of `spec` in `dest/<class>/` (made once per seed, in parallel)."""
    from semantic_hashing.retrieval.datasets import load_fashion_mnist

    marker = dest / f".complete-{n}-{seed}"
    if marker.exists():
        return dest
    data = load_fashion_mnist("test")
    pick = np.random.default_rng(seed).choice(len(data.images), n, replace=False)
    jobs = []
    for i, j in enumerate(pick):
        folder = dest / data.classes[data.labels[j]].replace("/", "-")
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{i:05d}{spec.suffix}"
        if not path.exists():
            jobs.append((data.images[j, 0], spec, seed * 1_000_003 + i, path))
    log.info("writing %d %s photos into %s", len(jobs), spec.name, dest)
    with ProcessPoolExecutor(cores()) as pool:
        list(pool.map(_write, jobs, chunksize=4))
    marker.touch()
    return dest


def doubled(src: Path, dest: Path, spec: PhotoSet, n: int, seed: int = 0) -> Path:
    """2n photos: the n of `src` (hard links, no extra disk) and n more."""
    marker = dest / f".complete-{2 * n}-{seed}"
    if marker.exists():
        return dest
    for path in src.rglob(f"*{spec.suffix}"):
        target = dest / "a" / path.relative_to(src)
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists():
            os.link(path, target)
    make_photo_folder(dest / "b", spec, n, seed + 1)
    marker.touch()
    return dest


def training_images(n: int = 2000, seed: int = 0) -> np.ndarray:
    """(n, 3, 32, 32) uint8 photos at model size, rendered small the same way."""
    from semantic_hashing.retrieval.datasets import load_fashion_mnist

    data = load_fashion_mnist("train")
    pick = np.random.default_rng(seed).choice(len(data.images), n, replace=False)
    out = np.empty((n, 3, 32, 32), np.uint8)
    for k, j in enumerate(pick):
        img = render(data.images[j, 0], 96, 64, seed + k).resize((32, 32), Image.BILINEAR)
        out[k] = np.asarray(img).transpose(2, 0, 1)
    return out
