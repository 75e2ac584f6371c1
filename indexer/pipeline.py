"""The indexing pipeline: folder -> readable items -> (trained) encoder -> collection.

Bad files never stop a run: each is skipped with its reason, listed in the report and in
the collection's log.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from indexer.collection import SIDECAR, Collection
from retrieval.codes import HashEncoder
from retrieval.errors import SemhashError
from retrieval.progress import timed
from retrieval.sources import SOURCES, Loaded, TrainSpec, infer_kind
from retrieval.training import resolve_device

log = logging.getLogger(__name__)


@dataclass
class IndexOptions:
    spec: TrainSpec = field(default_factory=TrainSpec)
    kind: str | None = None  # None: from the collection, else inferred from the files
    model_path: Path | None = None
    db_url: str | None = None


@dataclass
class IndexReport:
    collection: Path
    kind: str = ""
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


def _existing(collection: Path, opts: IndexOptions):
    """(collection or None, encoder or None), refusing mismatched models and kinds."""
    device = opts.spec.device
    coll = Collection.open(collection, device) if (collection / SIDECAR).exists() else None
    encoder = HashEncoder.load(opts.model_path, resolve_device(device)) if opts.model_path else None
    if coll is not None:
        if encoder is not None:
            coll.check_model(encoder)
        if opts.kind and opts.kind != coll.kind:
            raise SemhashError(f"{collection} is a {coll.kind} collection, not a {opts.kind} one.")
        encoder = coll.encoder
    return coll, encoder


def index_folder(root: str | Path, collection: str | Path, opts: IndexOptions) -> IndexReport:
    """Index every item below `root` into `collection` (created, or extended with new files)."""
    root, collection = Path(root), Path(collection)
    if not root.exists():
        raise SemhashError(f"{root} does not exist.")
    coll, encoder = _existing(collection, opts)
    kind = coll.kind if coll else encoder.config.kind if encoder else opts.kind or infer_kind(root)
    if encoder is not None and encoder.config.kind != kind:
        raise SemhashError(f"the model is a {encoder.config.kind} model, not a {kind} one.")
    source = SOURCES[kind]()
    report = IndexReport(collection, kind)
    with timed("list", report.timings):
        paths = source.list(root)
    if not paths:
        raise SemhashError(f"no {kind} files were found in {root}.")
    if coll is not None:
        before = len(paths)
        paths = [p for p in paths if coll.meta.by_path(_key(p)) is None]
        report.unchanged = before - len(paths)

    with timed("read", report.timings):
        loaded = source.read(paths, encoder, opts.spec)
    report.skipped = loaded.skipped
    if not loaded.paths and coll is None:
        raise SemhashError(f"none of the {len(paths)} {kind} files in {root} could be read.")
    if encoder is None:
        with timed("train", report.timings):
            encoder, report.train_info = source.fit(loaded, opts.spec)
    if coll is None:
        coll = Collection.create(collection, encoder, opts.db_url)
    if loaded.paths:
        _add(coll, source, loaded, root, report)
    report.total = len(coll.index)
    coll.log_event(f"index {root}: added {report.added}, unchanged {report.unchanged}, "
                   f"skipped {len(report.skipped)}")  # fmt: skip
    for path, reason in report.skipped:
        log.warning("skipped %s: %s", path, reason)
        coll.log_event(f"skipped {path}: {reason}")
    coll.close()
    return report


def _add(coll: Collection, source, loaded: Loaded, root: Path, report: IndexReport) -> None:
    start = time.perf_counter()
    features = source.features(loaded, coll.encoder)
    codes = coll.encoder.encode(features, show_progress=True)
    report.timings["encode"] = time.perf_counter() - start
    first = coll.meta.next_id()
    ids = np.arange(first, first + len(loaded.paths), dtype=np.int64)
    rows = [{"id": int(i), "path": _key(p), "label": _label(p, root), **m}
            for i, p, m in zip(ids, loaded.paths, loaded.meta, strict=True)]  # fmt: skip
    with timed("write", report.timings):
        coll.add(ids, codes, features, rows)
    report.added = len(ids)


def _key(path: Path) -> str:
    return str(path.resolve())


def _label(path: Path, root: Path) -> str:
    """The parent folder relative to the indexed root ('' for files directly in it)."""
    if not root.is_dir():
        return ""
    parent = path.parent.resolve().relative_to(root.resolve())
    return "" if str(parent) == "." else str(parent)


def train_folder(root: str | Path, out: str | Path, opts: IndexOptions) -> dict:
    """Train a model on the items below `root` and save it to `out` (no collection)."""
    root = Path(root)
    if not root.exists():
        raise SemhashError(f"{root} does not exist.")
    kind = opts.kind or infer_kind(root)
    source = SOURCES[kind]()
    paths = source.list(root)
    loaded = source.read(paths, None, opts.spec)
    if len(loaded.paths) < 2:
        raise SemhashError(f"fewer than two readable {kind} files in {root}.")
    encoder, info = source.fit(loaded, opts.spec)
    encoder.save(out, info)
    return {"items": len(loaded.paths), "skipped": loaded.skipped,
            "fingerprint": encoder.fingerprint(), **info}  # fmt: skip
