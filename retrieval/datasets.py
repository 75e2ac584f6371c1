"""Standard data sets: where to find them, how to load them, how to lay them out as folders.

Nothing here runs at import time. Fashion-MNIST comes from Debian's `dataset-fashion-mnist`
(`/usr/share/datasets/fashion-mnist`), a `$SEMHASH_DATA` folder, or a download where a
network exists. CIFAR-10 and 20 Newsgroups come from archives (`../shared/data` in this
workplace, or any path given) and are unpacked once into the cache folder.
"""

from __future__ import annotations

import gzip
import logging
import os
import tarfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from semantic_hashing.retrieval.errors import SemhashError

log = logging.getLogger(__name__)

FASHION_CLASSES = [
    "t-shirt", "trouser", "pullover", "dress", "coat",
    "sandal", "shirt", "sneaker", "bag", "ankle-boot",
]  # fmt: skip
FASHION_DIRS = [Path("/usr/share/datasets/fashion-mnist")]
FASHION_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
FASHION_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}


def cache_dir() -> Path:
    """Where unpacked data sets live: `$SEMHASH_CACHE`, else `~/.cache/semhash`."""
    return Path(os.environ.get("SEMHASH_CACHE", Path.home() / ".cache" / "semhash"))


def shared_data_dirs() -> list[Path]:
    """Folders that may hold the archives: `$SEMHASH_DATA`, then `../shared/data`."""
    dirs = [Path(p) for p in os.environ.get("SEMHASH_DATA", "").split(os.pathsep) if p]
    here = Path(__file__).resolve().parent.parent
    return dirs + [here.parent / "shared" / "data", Path.cwd().parent / "shared" / "data"]


@dataclass
class LabelledImages:
    """Images as a uint8 array (N, C, H, W) with integer labels and class names."""

    images: np.ndarray
    labels: np.ndarray
    classes: list[str]


def _read_idx(path: Path) -> np.ndarray:
    with gzip.open(path, "rb") as fh:
        data = fh.read()
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def find_fashion_mnist(download: bool = True) -> Path:
    """The folder holding the four Fashion-MNIST IDX files, downloading them if allowed."""
    names = [n for pair in FASHION_FILES.values() for n in pair]
    candidates = [Path(p) for p in os.environ.get("SEMHASH_DATA", "").split(os.pathsep) if p]
    candidates += FASHION_DIRS + [cache_dir() / "fashion-mnist"]
    for folder in candidates:
        if all((folder / n).exists() for n in names):
            return folder
    if not download:
        raise SemhashError(
            "Fashion-MNIST is not installed: run `apt-get install dataset-fashion-mnist` "
            "or set SEMHASH_DATA to a folder with its IDX files."
        )
    target = cache_dir() / "fashion-mnist"
    target.mkdir(parents=True, exist_ok=True)
    try:
        for name in names:
            log.info("downloading %s", FASHION_URL + name)
            urllib.request.urlretrieve(FASHION_URL + name, target / name)
    except OSError as exc:
        raise SemhashError(
            f"Fashion-MNIST is not installed and could not be downloaded ({exc}); "
            "run `apt-get install dataset-fashion-mnist`."
        ) from None
    return target


def load_fashion_mnist(split: str = "train") -> LabelledImages:
    """Fashion-MNIST `train` (60,000) or `test` (10,000) as (N, 1, 28, 28) uint8."""
    folder = find_fashion_mnist()
    images_name, labels_name = FASHION_FILES[split]
    images = _read_idx(folder / images_name)[:, None]
    labels = _read_idx(folder / labels_name).astype(np.int64)
    return LabelledImages(images, labels, list(FASHION_CLASSES))


def export_image_folder(data: LabelledImages, dest: Path, limit: int | None = None) -> Path:
    """Write images as `dest/<class>/<NNNNN>.png` (skips work already done). Returns `dest`."""
    from PIL import Image

    from semantic_hashing.retrieval.progress import progress

    n = len(data.images) if limit is None else min(limit, len(data.images))
    marker = dest / f".complete-{n}"
    if marker.exists():
        return dest
    for name in data.classes:
        (dest / name).mkdir(parents=True, exist_ok=True)
    for i in progress(range(n), desc=f"writing {dest.name}", unit="img"):
        path = dest / data.classes[data.labels[i]] / f"{i:05d}.png"
        if not path.exists():
            arr = data.images[i]
            img = Image.fromarray(arr[0] if arr.shape[0] == 1 else arr.transpose(1, 2, 0))
            img.save(path)
    marker.touch()
    return dest


def fashion_mnist_folder(split: str = "train", limit: int | None = None) -> Path:
    """Fashion-MNIST `split` laid out as a folder of PNGs in the cache (made once)."""
    suffix = "" if limit is None else f"-{limit}"
    dest = cache_dir() / "fashion-mnist-png" / f"{split}{suffix}"
    return export_image_folder(load_fashion_mnist(split), dest, limit)


def unpack_archive(name: str, member: str) -> Path:
    """Unpack `name` (found in `shared_data_dirs()`) into the cache; return `cache/member`."""
    dest = cache_dir() / member
    if (cache_dir() / f".{member}.complete").exists():
        return dest
    for folder in shared_data_dirs():
        archive = folder / name
        if archive.exists():
            break
    else:
        raise SemhashError(f"{name} was not found; set SEMHASH_DATA to the folder that holds it.")
    log.info("unpacking %s into %s", archive, cache_dir())
    cache_dir().mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive) as tar:
        tar.extractall(cache_dir(), filter="data")
    (cache_dir() / f".{member}.complete").touch()
    return dest


def cifar10_folder() -> Path:
    """CIFAR-10 as `cifar10-jpg/{train,test}/<class>/*.jpg` (unpacked once)."""
    return unpack_archive("cifar10-jpg.tar.gz", "cifar10-jpg")


def newsgroups_folder() -> Path:
    """20 Newsgroups as `20_newsgroups/<group>/<message>` (unpacked once)."""
    return unpack_archive("20news-19997.tar.gz", "20_newsgroups")


def newsgroups_split(n_queries: int = 1000, seed: int = 0) -> Path:
    """The project's fixed 20 Newsgroups split, as folders `db/<group>/*` and `queries/...`.

    All post paths are sorted and permuted with `np.random.default_rng(seed)`; the first
    third of the permutation is the query split and the other two thirds (about 13,300
    posts) the collection. The first `n_queries` posts of the query split, in permutation
    order, are the evaluation queries. Files are copied once into the cache.
    """
    import shutil

    src = newsgroups_folder()
    dest = cache_dir() / f"20news-split-s{seed}-q{n_queries}"
    if (dest / ".complete").exists():
        return dest
    posts = sorted(p.relative_to(src) for p in src.glob("*/*") if p.is_file())
    order = np.random.default_rng(seed).permutation(len(posts))
    n_query_split = len(posts) // 3
    chosen = {"queries": order[:n_queries], "db": order[n_query_split:]}
    for part, rows in chosen.items():
        for i in rows:
            target = dest / part / posts[i]
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src / posts[i], target)
    (dest / ".complete").touch()
    return dest
