"""The indexing pipeline: folder -> readable items -> (trained) encoder -> collection.

Runs are incremental (unchanged files are not read again, changed ones are re-encoded
under their id), written in chunks that each commit on their own (a killed run resumes
where it stopped), and bad files never stop a run: each is skipped with its reason,
listed in the report and in the collection's log.
"""

from __future__ import annotations

import logging
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from semantic_hashing.indexer import links as via
from semantic_hashing.indexer import rebuild, repair, swap
from semantic_hashing.indexer.layout import INDEX, LOCK, LOG, MODEL, RAW, SIDECAR
from semantic_hashing.indexer.opening import DB_URL_ENV, new_metadata
from semantic_hashing.indexer.store import Store
from semantic_hashing.indexer.writing import file_stat, item_key, write_loaded, write_paths
from semantic_hashing.retrieval.codes import HashEncoder
from semantic_hashing.retrieval.errors import SemhashError
from semantic_hashing.retrieval.fitting import TrainSpec, fit_encoder
from semantic_hashing.retrieval.fsutil import check_writable
from semantic_hashing.retrieval.kinds import check_kinds, get_kind, infer_kind
from semantic_hashing.retrieval.kinds.choice import check_features
from semantic_hashing.retrieval.kinds.choice import resolve as resolve_features
from semantic_hashing.retrieval.params import check_bits
from semantic_hashing.retrieval.pool import resolve_workers
from semantic_hashing.retrieval.presets import get_preset
from semantic_hashing.retrieval.progress import timed
from semantic_hashing.retrieval.training import resolve_device
from semantic_hashing.retrieval.walk import ListingRules

log = logging.getLogger(__name__)


@dataclass
class IndexOptions:
    spec: TrainSpec = field(default_factory=TrainSpec)
    kind: str | None = None  # None: from the collection, else inferred from the files
    model_path: Path | None = None
    db_url: str | None = None
    chunk_size: int = 4096  # items per committed chunk
    prune: bool = False  # drop entries whose files are gone
    rebuild: bool = False  # re-encode everything with --model
    backend: str | None = None  # a code store (default: the collection's, else faiss)
    uri: str | None = None  # Milvus server URI or Milvus Lite file
    listing: ListingRules = field(default_factory=ListingRules)  # which files are taken
    workers: int | None = None  # reading/decoding threads (None: every core)
    given: tuple[str, ...] = ()  # training settings the user gave (refused when not training)

    def validate(self) -> None:
        """Refuse options out of range before reading or training anything."""
        spec, t = self.spec, self.spec.train
        for value, name, low, high in (
            (self.chunk_size, "--chunk-size", 1, 1 << 24), (spec.vocab, "--vocab", 2, 1 << 20),
            (t.epochs, "--epochs", 0, 100_000), (t.batch_size, "batch size", 0, 1 << 20),
            (t.seed, "--seed", 0, 2**32 - 1),
        ):  # fmt: skip
            if not isinstance(value, int) or not low <= value <= high:
                raise SemhashError(f"{name} must be an integer from {low} to {high}, not {value}.")
        check_bits(spec.bits)
        if spec.image_size and (not 8 <= spec.image_size <= 256 or spec.image_size % 4):
            raise SemhashError(f"--image-size must be 0 (automatic) or a multiple of 4 from 8 "
                               f"to 256, not {spec.image_size}.")  # fmt: skip
        get_preset(spec.quality)  # an unknown --quality is refused here, before any work


@dataclass
class IndexReport:
    collection: Path
    kind: str = ""
    added: int = 0
    changed: int = 0
    unchanged: int = 0
    removed: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    timings: dict = field(default_factory=dict)
    train_info: dict = field(default_factory=dict)
    total: int = 0
    left_out: dict = field(default_factory=dict)  # by listing rule: {"hidden files": 3, ...}
    workers: int = 1

    @property
    def files_per_second(self) -> float:
        """Items read, encoded and written per second of those three stages together."""
        seconds = sum(self.timings.get(k, 0.0) for k in ("read", "encode", "write"))
        n = self.added + self.changed
        return n / seconds if seconds > 0 else float("nan")


@dataclass
class Plan:
    """Which listed files to read, and the id each changed or re-added one keeps."""

    todo: list[Path]
    keep_id: dict[Path, int]
    unchanged: int
    gone: list[int]
    base: Path | None = None  # the resolved root, when no linked folder was followed
    links: dict[str, str] = field(default_factory=dict)  # listed path -> real path outside
    stale_links: list[str] = field(default_factory=list)  # link records to drop (links.py)


def plan(
    coll: Store | None, paths: list[Path], root: Path, prune: bool, links: bool = False
) -> Plan:
    """What to read of `paths` (`links`: the walk followed linked folders, so every path
    is resolved on its own); a file listed twice (through links) is read once."""
    live = coll.meta.live() if coll else {}
    todo, keep_id, unchanged, seen, outside, unknown = [], {}, 0, set(), {}, {}
    base, prefix = None if links else root.resolve(), item_key(root)
    for path in paths:
        key = item_key(path, root, base)
        if (listed := via.outside(path, key, prefix)) is not None:
            outside[listed] = key
        if key in seen:
            continue
        seen.add(key)
        row = live.get(key)
        if row is not None and row[1] and (row[2], row[3]) == file_stat(path):
            unchanged += 1
            continue
        if row is not None:
            keep_id[path] = row[0]
        else:  # new, or removed once: a path keeps its id for good
            unknown[key] = path
        todo.append(path)
    if coll is not None and unknown:  # the rows of these paths only, not every row's
        for key, item_id in coll.meta.ids_of_paths(list(unknown)).items():
            keep_id[unknown[key]] = item_id
    gone, stale = [], []
    if prune:
        gone = [row[0] for key, row in live.items() if key not in seen and
                (key == prefix or key.startswith(prefix.rstrip("/") + "/"))]  # fmt: skip
        if coll is not None:  # items outside that only a vanished link reached
            linked, stale = via.gone(coll.meta, live, root, outside, seen)
            gone = sorted(set(gone) | set(linked))
    return Plan(todo, keep_id, unchanged, gone, base, outside, stale)


def _clear_half_created(collection: Path) -> None:
    """A folder with our files but no sidecar and no item is a creation that was killed:
    start over. One that holds items lost its sidecar: opening it rebuilds the sidecar."""
    if not collection.is_dir() or (collection / SIDECAR).exists() or repair.holds_data(collection):
        return
    ours = {MODEL, INDEX, RAW, LOG, LOCK, "metadata.sqlite", "metadata.sqlite-journal"}
    entries = list(collection.iterdir())
    if entries and all(p.name in ours or p.name.endswith(".tmp") for p in entries):
        log.warning("%s holds an unfinished collection; starting it again", collection)
        for p in entries:
            shutil.rmtree(p) if p.is_dir() else p.unlink()


def _open(collection: Path, opts: IndexOptions) -> tuple[Store | None, HashEncoder | None]:
    """(collection or None, the encoder to use or None), refusing mismatched models."""
    device = opts.spec.device
    encoder = HashEncoder.load(opts.model_path, resolve_device(device)) if opts.model_path else None
    _clear_half_created(collection)
    if not (collection / SIDECAR).exists() and not repair.holds_data(collection):
        if opts.rebuild and encoder is None:
            raise SemhashError("--rebuild needs --model: the model to re-encode with.")
        check_writable(collection / SIDECAR, "the collection")  # refused before training
        if db_url := opts.db_url or os.environ.get(DB_URL_ENV):
            new_metadata(db_url).close()
        return None, encoder
    coll = Store.open(collection, device, write=True, db_url=opts.db_url, uri=opts.uri)
    if opts.backend and opts.backend != coll.backend:
        coll.close()
        raise SemhashError(f"{collection} keeps its codes in {coll.backend}, not {opts.backend}.")
    try:
        if opts.kind and opts.kind != coll.kind:
            raise SemhashError(f"{collection} is a {coll.kind} collection, not a {opts.kind} one.")
        check_features(coll.kind, coll.model_config, opts.spec.features, str(collection))
        if encoder is not None:
            check_kinds(coll.kind, encoder.config.kind, collection, opts.model_path)
        if encoder is not None and opts.rebuild:
            if encoder.fingerprint() != coll.info["model_fingerprint"] and not swap.can_stage(coll):
                rebuild.replace_model(
                    coll, encoder
                )  # codes outside the folder: re-encoded in place
        elif encoder is not None:
            coll.check_model(encoder)
        elif opts.rebuild:
            raise SemhashError("--rebuild needs --model: the model to re-encode with.")
    except SemhashError:
        coll.close()
        raise
    return coll, encoder if encoder is not None and opts.rebuild else coll.encoder


def index_folder(root: str | Path, collection: str | Path, opts: IndexOptions) -> IndexReport:
    """Index every item below `root` into `collection` (created, or brought up to date)."""
    root, collection = Path(root), Path(collection)
    if not root.exists():
        raise SemhashError(f"{root} does not exist.")
    resolve_workers(opts.workers)  # a bad --workers is refused before anything is opened
    opts.validate()
    coll, encoder = _open(collection, opts)
    if encoder is not None:
        try:
            rebuild.refuse_unused_settings(opts, encoder, collection if coll else opts.model_path)
        except SemhashError:
            if coll is not None:
                coll.close()
            raise
    if coll is not None and encoder.fingerprint() != coll.info["model_fingerprint"]:
        return _rebuild_beside(root, collection, coll, encoder, opts)
    try:
        return _index(root, collection, coll, encoder, opts)
    finally:
        if coll is not None:
            coll.close()


def _rebuild_beside(root, collection, coll, encoder, opts) -> IndexReport:
    """--rebuild with another model: build the new state beside the live one (which
    readers keep seeing) and swap it in at the end (indexer/swap.py)."""
    reuse = coll.input_kind.reencodes(coll.model_config, encoder.config.to_dict())
    kept = coll.meta.live() if reuse else {}  # the rows as they are, before staging marks them
    try:
        staged = swap.stage(coll, encoder, keep_inputs=reuse)
    except BaseException:
        coll.close()
        raise
    try:
        if reuse:  # the stored inputs serve the new model as they are: no file is read
            rebuild.encode_stored(staged, kept)
        report = _index(root, collection, staged, encoder, opts)
    except BaseException:
        swap.discard(staged)
        coll.close()
        raise
    swap.swap_in(coll, staged)
    return report


def _index(root, collection, coll, encoder, opts) -> IndexReport:
    kind = coll.kind if coll else encoder.config.kind if encoder else opts.kind
    kind = kind or infer_kind(root, opts.listing)
    if encoder is not None and encoder.config.kind != kind:
        raise SemhashError(f"the model is a {encoder.config.kind} model, not a {kind} one.")
    if coll is None and encoder is not None:
        check_features(kind, encoder.config.to_dict(), opts.spec.features,
                       f"the model {opts.model_path}", collection=False)  # fmt: skip
    source = get_kind(kind)
    report = IndexReport(collection, kind, workers=resolve_workers(opts.workers))
    with timed("list", report.timings):
        listing = source.listing(root, opts.listing)
    paths, report.skipped, report.left_out = listing.paths, listing.skipped, dict(listing.left_out)
    if not paths:
        left = f" (left out by rule: {listing.summary()})" if listing.left_out else ""
        raise SemhashError(f"no {kind} files were found in {root}{left}.")
    if coll is None and encoder is None:  # --features: pixels or a backbone's features
        kind = _features_kind(kind, paths, opts)
        source, report.kind = get_kind(kind), kind
    work = plan(coll, paths, root, opts.prune, opts.listing.follow_links)
    report.unchanged = work.unchanged

    if coll is None and encoder is None:  # train on the folder (or a sample of it) first
        sample = training_sample(work.todo, opts.spec.train.max_items, opts.spec.train.seed)
        with timed("read", report.timings):
            loaded = source.read(sample, None, opts.spec, workers=report.workers)
        if not loaded.paths:
            raise SemhashError(f"none of the {len(paths)} {kind} files in {root} could be read.")
        with timed("train", report.timings):
            encoder, report.train_info = fit_encoder(source, loaded, opts.spec)
        coll = Store.create(collection, encoder, opts.db_url, opts.backend, opts.uri)
        try:
            if len(sample) == len(work.todo):
                write_loaded(coll, source, loaded, root, work, report, opts.chunk_size)
            else:  # a sample was read for training: stream every file, a chunk at a time
                del loaded
                write_paths(coll, source, root, work, report, opts)
            return _finish(coll, root, work, report)
        finally:
            coll.close()
    if coll is None:
        coll = Store.create(collection, encoder, opts.db_url, opts.backend, opts.uri)
        try:
            write_paths(coll, source, root, work, report, opts)
            return _finish(coll, root, work, report)
        finally:
            coll.close()
    write_paths(coll, source, root, work, report, opts)
    return _finish(coll, root, work, report)


def training_sample(paths: list[Path], max_items: int, seed: int) -> list[Path]:
    """The files a new model trains on: all of them, or a seeded sample of `max_items` (in
    listing order) when there are more; training samples that many rows anyway, and
    reading only those keeps memory flat however large the folder (the rest are streamed
    through the trained model a chunk at a time)."""
    if len(paths) <= max_items:
        return paths
    rows = np.sort(np.random.default_rng(seed).choice(len(paths), max_items, replace=False))
    return [paths[i] for i in rows]


def _finish(coll: Store, root: Path, work: Plan, report: IndexReport) -> IndexReport:
    if work.gone:
        report.removed = coll.remove(work.gone)
    via.record(coll.meta, work.links, work.stale_links)
    report.total = len(coll.index)
    coll.log_event(f"index {root}: added {report.added}, changed {report.changed}, "
                   f"unchanged {report.unchanged}, removed {report.removed}, "
                   f"skipped {len(report.skipped)}")  # fmt: skip
    for path, reason in report.skipped:  # listed in the report (the CLI prints it once)
        log.debug("skipped %s: %s", path, reason)
        coll.log_event(f"skipped {path}: {reason}")
    return report


def _features_kind(kind: str, paths: list[Path], opts: IndexOptions) -> str:
    """The kind that reads a new collection's files under `--features`; the spec then
    names the backbone (or "pixels")."""
    kind, backbone = resolve_features(kind, opts.spec.features, paths, bool(opts.kind))
    opts.spec.features = backbone or "pixels"
    return kind
