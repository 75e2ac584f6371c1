"""The files of `semhash bench --task million`: N distinct images made from real data.

Item `i` of the N - P distinct ones takes Fashion-MNIST (even `i`, a 28x28 gray PNG) or
CIFAR-10 (odd `i`, a 32x32 colour JPEG); its source is the `i // 2`-th of a seeded
permutation of the 70,000 Fashion-MNIST or 60,000 CIFAR-10 images, and its variant number
`v` counts how often that source came round before. Variant `v` of a source is transform
number `(offset + 263 v) mod 750` (the offset seeded per source): a flip, a shift of -2..2
pixels each way, a crop of 0, 2 or 4 pixels a side scaled back, and one of five tones, so two
variants of one source never share a transform and every file is distinct. P = N / 200 (at
least 20) more files are planted copies of seeded distinct items, half of them exact (the
same bytes) and half near (tone x0.95-0.97 or x1.03-1.05, or the other format), recorded in
`planted.json`. The added files of the add job are the next items of the same sequence.

Files go to `files/fashion-mnist/sNNNN/` and `files/cifar10/sNNNN/` (item `i` in folder
`i // 1000`) and `files/planted/`, written by a
process pool a folder at a time; a folder finished is marked, so an interrupted run resumes,
and a later run with the same N and seed reuses everything.
"""

from __future__ import annotations

import io
import json
import logging
import multiprocessing
import shutil
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image

from semantic_hashing.retrieval import datasets
from semantic_hashing.retrieval.pool import cores

log = logging.getLogger(__name__)
SHARD = 1000  # items a folder
N_TRANSFORMS = 2 * 5 * 5 * 3 * 5  # flip x dx x dy x crop x tone
STRIDE = 263  # prime to N_TRANSFORMS: variants 0..749 of a source are 750 transforms
TONES = (0.8, 0.9, 1.0, 1.1, 1.2)
FORMAT = 2  # bump when the files change, so old ones are not reused
# One folder per source, so that a sample of the sorted paths holds both: `semhash index`
# decides gray or colour from every len/64-th path, which alternating files could alias.
PARTS = {"f": "fashion-mnist", "c": "cifar10"}
N_FASHION = 70_000


@dataclass(frozen=True)
class Plan:
    items: int  # files in all, planted copies included
    seed: int = 0

    @property
    def planted(self) -> int:
        return max(20, self.items // 200)

    @property
    def distinct(self) -> int:
        return self.items - self.planted


@lru_cache(maxsize=1)
def fashion_images() -> np.ndarray:
    """The 70,000 Fashion-MNIST images, train then test, (N, 28, 28) uint8."""
    parts = [datasets.load_fashion_mnist(s).images[:, 0] for s in ("train", "test")]
    return np.concatenate(parts)


@lru_cache(maxsize=1)
def cifar_paths() -> list[Path]:
    root = datasets.cifar10_folder()
    return sorted(root.glob("t*/*/*.jpg"))


@lru_cache(maxsize=4)
def _order(seed: int, part: str, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(source permutation, per-source transform offset) of one part."""
    rng = np.random.default_rng([seed, 0 if part == "f" else 1])
    return rng.permutation(n), rng.integers(0, N_TRANSFORMS, n)


def describe(i: int, seed: int) -> tuple[str, int, int]:
    """(part "f" or "c", source index, transform number) of distinct item `i`."""
    part = "f" if i % 2 == 0 else "c"
    j = i // 2
    n = N_FASHION if part == "f" else len(cifar_paths())
    perm, offset = _order(seed, part, n)
    source = int(perm[j % n])
    return part, source, int((offset[source] + STRIDE * (j // n)) % N_TRANSFORMS)


def source_image(part: str, source: int) -> np.ndarray:
    if part == "f":
        return fashion_images()[source]
    with Image.open(cifar_paths()[source]) as img:
        return np.asarray(img.convert("RGB"))


def apply(arr: np.ndarray, t: int) -> np.ndarray:
    """Transform number `t` of an (H, W) or (H, W, 3) uint8 image: same size out."""
    t, flip = divmod(t, 2)
    t, dx = divmod(t, 5)
    t, dy = divmod(t, 5)
    tone, crop = divmod(t, 3)
    h, w = arr.shape[:2]
    if flip:
        arr = arr[:, ::-1]
    arr = np.roll(arr, (dy - 2, dx - 2), axis=(0, 1))
    img = Image.fromarray(np.ascontiguousarray(arr))
    c = 2 * crop
    if c:
        img = img.crop((c, c, w - c, h - c)).resize((w, h), Image.Resampling.BILINEAR)
    out = np.asarray(img, dtype=np.float32) * TONES[tone] + (TONES[tone] - 1.0) * 40
    return np.clip(out, 0, 255).astype(np.uint8)


def encode(arr: np.ndarray, fmt: str) -> bytes:
    buf = io.BytesIO()
    if fmt == "png":
        Image.fromarray(arr).save(buf, "PNG", compress_level=1)
    else:
        Image.fromarray(arr).save(buf, "JPEG", quality=90)
    return buf.getvalue()


def item_file(i: int, seed: int) -> tuple[str, bytes]:
    """(relative path, bytes) of distinct item `i`."""
    part, source, t = describe(i, seed)
    fmt = "png" if part == "f" else "jpg"
    rel = f"{PARTS[part]}/s{i // SHARD:04d}/{i:07d}.{fmt}"
    return rel, encode(apply(source_image(part, source), t), fmt)


def planted_file(k: int, plan: Plan) -> tuple[str, bytes, dict]:
    """(relative path, bytes, truth) of planted copy `k`: a copy of a seeded distinct item."""
    rng = np.random.default_rng([plan.seed, 2, k])
    original = int(planted_originals(plan)[k])
    path, data = item_file(original, plan.seed)
    how = "exact" if k % 2 == 0 else "near"
    if how == "near":
        part, source, t = describe(original, plan.seed)
        arr = apply(source_image(part, source), t)
        if rng.random() < 0.5:  # the other format
            data = encode(arr, "jpg" if part == "f" else "png")
            suffix = "jpg" if part == "f" else "png"
        else:
            gain = rng.choice([rng.uniform(0.95, 0.97), rng.uniform(1.03, 1.05)])
            data = encode(np.clip(arr * gain, 0, 255).astype(np.uint8), path[-3:])
            suffix = path[-3:]
    else:
        suffix = path[-3:]
    name = f"planted/{k:07d}-{how}.{suffix}"
    return name, data, {"original": path, "copy": name, "how": how}


@lru_cache(maxsize=4)
def planted_originals(plan: Plan) -> np.ndarray:
    return np.random.default_rng([plan.seed, 3]).choice(plan.distinct, plan.planted, replace=False)


def _write_shard(args) -> int:
    root, lo, hi, seed = args
    for i in range(lo, hi):
        rel, data = item_file(i, seed)
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    (root / ".done" / f"{lo}-{hi}").touch()
    return hi - lo


def write_items(root: Path, lo: int, hi: int, seed: int, workers: int | None = None) -> None:
    """Items lo..hi-1 under `root`, a folder of SHARD at a time on a pool of processes;
    folders already marked done are skipped."""
    (root / ".done").mkdir(parents=True, exist_ok=True)
    todo = [(root, a, min(hi, a + SHARD - a % SHARD), seed) for a in _starts(lo, hi)]
    todo = [t for t in todo if not (root / ".done" / f"{t[1]}-{t[2]}").exists()]
    if not todo:
        return
    fashion_images(), cifar_paths()  # loaded once, before the fork
    workers = workers or cores()
    if workers == 1 or len(todo) == 1:
        for t in todo:
            _write_shard(t)
        return
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        done = 0
        for n in pool.imap_unordered(_write_shard, todo):
            done += n
            if done % 50_000 < n:
                log.info("written %d of %d files", done, hi - lo)


def _starts(lo: int, hi: int) -> list[int]:
    first = [lo] if lo % SHARD else []
    return first + list(range(-(-lo // SHARD) * SHARD, hi, SHARD))


def write_planted(root: Path, plan: Plan) -> list[dict]:
    folder = root / "planted"
    folder.mkdir(parents=True, exist_ok=True)
    truth = []
    for k in range(plan.planted):
        name, data, row = planted_file(k, plan)
        (root / name).write_bytes(data)
        truth.append(row)
    return truth


def make_files(out: Path, plan: Plan) -> tuple[Path, list[dict]]:
    """`out/files/` holding the plan's N files (made or resumed; reused when complete) and
    the planted copies' truth (also in `out/planted.json`)."""
    root, stamp = out / "files", out / "files.json"
    want = {"items": plan.items, "seed": plan.seed, "format": FORMAT}
    shutil.rmtree(root / "added", ignore_errors=True)  # the add job's, from an earlier run
    if stamp.exists() and json.loads(stamp.read_text()) == want:
        return root, json.loads((out / "planted.json").read_text())
    started = out / "files-started.json"
    if root.exists() and not (started.exists() and json.loads(started.read_text()) == want):
        shutil.rmtree(root)  # another N or seed: nothing to reuse
    stamp.unlink(missing_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    started.write_text(json.dumps(want))
    write_items(root, 0, plan.distinct, plan.seed)
    truth = write_planted(root, plan)
    (out / "planted.json").write_text(json.dumps(truth))
    stamp.write_text(json.dumps(want))
    return root, truth


def add_files(root: Path, plan: Plan, n: int = 1000) -> Path:
    """`root/added/` holding the next `n` distinct items of the sequence (new files)."""
    folder = root / "added"
    shutil.rmtree(folder, ignore_errors=True)
    for i in range(plan.distinct, plan.distinct + n):
        rel, data = item_file(i, plan.seed)
        target = folder / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return folder
