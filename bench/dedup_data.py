"""A seeded near-duplicate set from real images, with its ground truth.

From a folder of images (CIFAR-10 `test/` for the benchmark, `train/` for calibrating the
defaults) `n_originals` images are picked with `np.random.default_rng(seed)`; each gets 1-3
transformed copies. A copy applies each of four transforms with probability 1/2 (at least
one):

    crop        up to 10% of the width and of the height cut away, at a random place
    rescale     resized by a factor 0.5-2 (bicubic)
    tone        brightness and contrast each multiplied by 0.8-1.2
    jpeg        saved as JPEG at quality 30-70 (otherwise as PNG)

All source images are copied in as they are (the others are the distractors), flat in one
folder `images/`, so any tool can read it. Ground truth: one group per original, the
original and its copies (`truth.json`).
"""

from __future__ import annotations

import io
import json
import shutil
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path

import numpy as np
from PIL import Image, ImageEnhance

from semantic_hashing.retrieval.images import list_images


@dataclass
class NearDupSet:
    folder: Path  # the images
    groups: list[list[str]]  # file names: original first, then its copies
    transforms: dict[str, list[str]]  # copy name -> transforms applied

    def pairs(self) -> set[tuple[str, str]]:
        return {tuple(sorted(p)) for g in self.groups for p in combinations(g, 2)}


def transform(img: Image.Image, rng: np.random.Generator) -> tuple[Image.Image, bool, list[str]]:
    """(copy, whether to save it as JPEG, names of the transforms applied)."""
    chosen = rng.random(4) < 0.5
    if not chosen.any():
        chosen[rng.integers(4)] = True
    crop, rescale, tone, jpeg = chosen
    names = [n for n, on in zip(("crop", "rescale", "tone", "jpeg"), chosen, strict=True) if on]
    img = img.convert("RGB")
    if crop:
        w, h = img.size
        cw, ch = round(w * rng.uniform(0, 0.1)), round(h * rng.uniform(0, 0.1))
        x, y = int(rng.integers(0, cw + 1)), int(rng.integers(0, ch + 1))
        img = img.crop((x, y, w - (cw - x), h - (ch - y)))
    if rescale:
        f = float(np.exp(rng.uniform(np.log(0.5), np.log(2.0))))
        size = (max(1, round(img.width * f)), max(1, round(img.height * f)))
        img = img.resize(size, Image.Resampling.BICUBIC)
    if tone:
        img = ImageEnhance.Brightness(img).enhance(rng.uniform(0.8, 1.2))
        img = ImageEnhance.Contrast(img).enhance(rng.uniform(0.8, 1.2))
    return img, bool(jpeg), names


def build_near_duplicates(source: Path, out: Path, n_originals: int = 1000, seed: int = 0,
                          n_images: int | None = None) -> NearDupSet:  # fmt: skip
    """Write the set to `out/images/` and `out/truth.json` (reused when already there and
    made with the same settings); `n_images`: a seeded sample of the source images."""
    truth_path = out / "truth.json"
    made_with = {"seed": seed, "source": str(source), "originals": n_originals,
                 "images": n_images}  # fmt: skip
    if truth_path.exists():
        data = json.loads(truth_path.read_text())
        if all(data.get(k) == v for k, v in made_with.items()):
            return NearDupSet(out / "images", data["groups"], data["transforms"])
    paths = list_images(source)
    rng = np.random.default_rng(seed)
    if n_images is not None and n_images < len(paths):
        paths = [paths[i] for i in np.sort(rng.choice(len(paths), n_images, replace=False))]
    picked = set(rng.choice(len(paths), min(n_originals, len(paths)), replace=False).tolist())
    folder = out / "images"
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    groups, transforms = [], {}
    for i, path in enumerate(paths):
        name = f"{path.parent.name}-{path.stem}{path.suffix.lower()}"
        shutil.copyfile(path, folder / name)
        if i not in picked:
            continue
        group = [name]
        with Image.open(path) as img:
            img.load()
            for k in range(int(rng.integers(1, 4))):
                copy, as_jpeg, names = transform(img, rng)
                copy_name = f"{path.parent.name}-{path.stem}-copy{k}.{'jpg' if as_jpeg else 'png'}"
                buf = io.BytesIO()
                if as_jpeg:
                    copy.save(buf, "JPEG", quality=int(rng.integers(30, 71)))
                else:
                    copy.save(buf, "PNG")
                (folder / copy_name).write_bytes(buf.getvalue())
                group.append(copy_name)
                transforms[copy_name] = names
        groups.append(group)
    truth_path.write_text(json.dumps({"groups": groups, "transforms": transforms,
                                      **made_with}))  # fmt: skip
    return NearDupSet(folder, groups, transforms)


def pair_scores(predicted: set[tuple[str, str]], truth: set[tuple[str, str]]) -> dict:
    """Pairwise precision, recall and F1."""
    tp = len(predicted & truth)
    p = tp / len(predicted) if predicted else 0.0
    r = tp / len(truth) if truth else 0.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(f1, 4),
            "pairs": len(predicted), "true_pairs": tp}  # fmt: skip


def group_pairs(groups: list[list[str]]) -> set[tuple[str, str]]:
    return {tuple(sorted(p)) for g in groups for p in combinations(g, 2)}
