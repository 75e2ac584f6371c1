"""The indexing pipeline: folder -> readable items -> (trained) encoder -> collection.

Bad files never stop a run: each is skipped with its reason, listed in the report and in
the collection's log.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from indexer.collection import SIDECAR, Collection
from retrieval.codes import HashEncoder
from retrieval.errors import SemhashError
from retrieval.images import UnreadableImage, list_images, load_image, sniff_channels
from retrieval.models import ModelConfig, build_model
from retrieval.progress import progress, timed
from retrieval.training import TrainConfig, resolve_device, train

log = logging.getLogger(__name__)


@dataclass
class IndexOptions:
    bits: int = 64
    image_size: int = 0  # 0: 28 for grayscale collections, 32 for colour ones
    model_path: Path | None = None
    device: str = "auto"
    db_url: str | None = None
    train: TrainConfig = field(default_factory=TrainConfig)
    model_type: str = "conv-dae"
    workers: int = 4
    backend: str | None = None  # faiss or milvus (default: the collection's, else faiss)
    uri: str | None = None  # Milvus server URI or Milvus Lite file


@dataclass
class IndexReport:
    collection: Path
    added: int = 0
    unchanged: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    timings: dict = field(default_factory=dict)
    train_info: dict = field(default_factory=dict)
    total: int = 0

    @property
    def items_per_second(self) -> float:
        seconds = self.timings.get("encode", 0.0)
        return self.added / seconds if seconds > 0 else float("nan")


@dataclass
class LoadedImages:
    paths: list[Path]
    arrays: np.ndarray  # (N, C, S, S) uint8
    infos: list


def load_images(paths: list[Path], size: int, channels: int, workers: int = 4):
    """Decode `paths` in a thread pool; returns (LoadedImages, skipped [(path, reason)])."""

    def one(path: Path):
        try:
            return load_image(path, size, channels)
        except UnreadableImage as exc:
            return str(exc)

    ok_paths, arrays, infos, skipped = [], [], [], []
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        results = pool.map(one, paths, chunksize=64)
        for path, res in zip(
            paths, progress(results, total=len(paths), desc="reading", unit="img"), strict=True
        ):
            if isinstance(res, str):
                skipped.append((str(path), res))
                log.warning("skipped %s: %s", path, res)
            else:
                ok_paths.append(path)
                arrays.append(res[0])
                infos.append(res[1])
    shape = (0, channels, size, size)
    stacked = np.stack(arrays) if arrays else np.zeros(shape, dtype=np.uint8)
    return LoadedImages(ok_paths, stacked, infos), skipped


def train_image_encoder(
    images: np.ndarray, bits: int, tcfg: TrainConfig, device: str = "auto",
    model_type: str = "conv-dae",
) -> tuple[HashEncoder, dict]:  # fmt: skip
    """Train a hashing autoencoder on uint8 images (N, C, S, S) and fit its thresholds."""
    cfg = ModelConfig(
        model_type=model_type, kind="image", bits=bits,
        channels=images.shape[1], image_size=images.shape[2],
    )  # fmt: skip
    torch.manual_seed(tcfg.seed)  # weight initialisation is part of the seeded run
    model = build_model(cfg)
    info = train(model, images, tcfg, resolve_device(device))
    encoder = HashEncoder(model)
    encoder.fit_thresholds(encoder.real(images, show_progress=True))
    info["train_config"] = tcfg.to_dict()
    return encoder, info


def index_folder(root: str | Path, collection: str | Path, opts: IndexOptions) -> IndexReport:
    """Index every image below `root` into `collection` (created, or extended with new files)."""
    root, collection = Path(root), Path(collection)
    if not root.exists():
        raise SemhashError(f"{root} does not exist.")
    report = IndexReport(collection)
    with timed("list", report.timings):
        paths = list_images(root)
    if not paths:
        raise SemhashError(f"no image files were found in {root}.")

    coll = _open_existing(collection, opts)
    encoder = (
        HashEncoder.load(opts.model_path, resolve_device(opts.device)) if opts.model_path else None
    )
    if coll is not None and encoder is not None:
        coll.check_model(encoder)
    if coll is not None:
        encoder = coll.encoder
        if coll.kind != "image":
            raise SemhashError(f"{collection} is a {coll.kind} collection, not an image one.")
        before = len(paths)
        paths = [p for p in paths if coll.meta.by_path(_key(p)) is None]
        report.unchanged = before - len(paths)

    if encoder is not None:
        size, channels = encoder.config.image_size, encoder.config.channels
    else:
        channels = sniff_channels(paths)
        size = opts.image_size or (28 if channels == 1 else 32)

    with timed("read", report.timings):
        loaded, report.skipped = load_images(paths, size, channels, opts.workers)
    if not loaded.paths and coll is None:
        raise SemhashError(f"none of the {len(paths)} image files in {root} could be read.")

    if encoder is None:
        with timed("train", report.timings):
            encoder, report.train_info = train_image_encoder(
                loaded.arrays, opts.bits, opts.train, opts.device, opts.model_type
            )
    if coll is None:
        coll = Collection.create(
            collection, encoder, opts.db_url, opts.backend or "faiss", opts.uri
        )

    if loaded.paths:
        start = time.perf_counter()
        codes = encoder.encode(loaded.arrays, show_progress=True)
        report.timings["encode"] = time.perf_counter() - start
        first = coll.meta.next_id()
        ids = np.arange(first, first + len(loaded.paths), dtype=np.int64)
        rows = [
            _row(int(i), p, info, root)
            for i, p, info in zip(ids, loaded.paths, loaded.infos, strict=True)
        ]
        with timed("write", report.timings):
            coll.add(ids, codes, loaded.arrays, rows)
    report.added = len(loaded.paths)
    report.total = len(coll.index)
    coll.log_event(f"index {root}: added {report.added}, unchanged {report.unchanged}, "
                   f"skipped {len(report.skipped)}")  # fmt: skip
    for path, reason in report.skipped:
        coll.log_event(f"skipped {path}: {reason}")
    coll.close()
    return report


def _open_existing(collection: Path, opts: IndexOptions) -> Collection | None:
    if not (collection / SIDECAR).exists():
        return None
    coll = Collection.open(collection, opts.device, opts.uri)
    if opts.backend and opts.backend != coll.backend:
        raise SemhashError(f"{collection} keeps its codes in {coll.backend}, not {opts.backend}.")
    return coll


def _key(path: Path) -> str:
    return str(path.resolve())


def _row(item_id: int, path: Path, info, root: Path) -> dict:
    parent = path.parent.resolve().relative_to(root.resolve()) if root.is_dir() else Path(".")
    return {
        "id": item_id, "path": _key(path), "sha256": info.sha256,
        "label": "" if str(parent) == "." else str(parent), "title": path.name,
        "width": info.width, "height": info.height, "mode": info.mode,
    }  # fmt: skip


def train_folder(root: str | Path, out: str | Path, opts: IndexOptions) -> dict:
    """Train a model on the images below `root` and save it to `out` (no collection)."""
    root = Path(root)
    if not root.exists():
        raise SemhashError(f"{root} does not exist.")
    paths = list_images(root)
    if not paths:
        raise SemhashError(f"no image files were found in {root}.")
    channels = sniff_channels(paths)
    size = opts.image_size or (28 if channels == 1 else 32)
    loaded, skipped = load_images(paths, size, channels, opts.workers)
    if len(loaded.paths) < 2:
        raise SemhashError(f"fewer than two readable images in {root}.")
    encoder, info = train_image_encoder(
        loaded.arrays, opts.bits, opts.train, opts.device, opts.model_type
    )
    encoder.save(out, info)
    return {
        "items": len(loaded.paths),
        "skipped": skipped,
        "fingerprint": encoder.fingerprint(),
        **info,
    }
