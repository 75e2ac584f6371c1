"""Models made outside an indexing run: `semhash train` on a folder or on a collection's
stored inputs, and the files a repair marked to read again."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from semantic_hashing.indexer.layout import SIDECAR
from semantic_hashing.indexer.pipeline import IndexOptions, IndexReport, _features_kind
from semantic_hashing.indexer.store import Chunk, Store
from semantic_hashing.indexer.writing import drop_unencodable, file_stat
from semantic_hashing.retrieval.errors import SemhashError
from semantic_hashing.retrieval.fitting import TrainSpec, fit_encoder
from semantic_hashing.retrieval.fsutil import check_writable
from semantic_hashing.retrieval.kinds import get_kind, infer_kind
from semantic_hashing.retrieval.kinds.choice import check_features
from semantic_hashing.retrieval.pool import resolve_workers


def reread_stale(coll: Store) -> dict:
    """Read again, under their own ids, the files of live rows that a repair marked for
    encoding again (their code or stored input was lost). Files that are gone or cannot be
    read stay marked; the next `index` of their folder tries again."""
    rows = coll.meta.stale()
    paths = {Path(r.path): r for r in rows if Path(r.path).is_file()}
    report = IndexReport(coll.path, coll.kind)
    if paths:
        source = coll.input_kind
        loaded = source.read(list(paths), coll.encoder, TrainSpec(), show=False)
        report.skipped += loaded.skipped
        if loaded.paths:
            inputs = source.features(loaded, coll.encoder)
            loaded, inputs = drop_unencodable(source, loaded, inputs, report)
        if loaded.paths:
            changed = []
            for path, meta in zip(loaded.paths, loaded.meta, strict=True):
                size, mtime = file_stat(path)
                old = paths[path]
                changed.append({"id": old.id, "path": old.path, "label": old.label,
                                "size": size, "mtime": mtime, **meta})  # fmt: skip
            ids = np.array([r["id"] for r in changed], dtype=np.int64)
            coll.write(Chunk(ids, coll.encoder.encode(inputs), inputs, [], changed))
            report.changed = len(changed)
    for path, reason in report.skipped:
        coll.log_event(f"repair could not read {path}: {reason}")
    return {"rows read again from their files": report.changed,
            "rows whose files are gone or unreadable": len(rows) - report.changed}  # fmt: skip


def train_folder(root: str | Path, out: str | Path, opts: IndexOptions) -> dict:
    """Train a model on the items below `root` and save it to `out` (no collection)."""
    root, out = Path(root), Path(out)
    if not root.exists():
        raise SemhashError(f"{root} does not exist.")
    if (out.parent / SIDECAR).exists():
        raise SemhashError(
            f"{out} is inside the collection {out.parent}, whose codes were made with its own "
            "model; write the new model elsewhere (then `index --model NEW --rebuild` switches)."
        )
    check_writable(out, "--out")
    opts.validate()
    if (root / SIDECAR).is_file():  # a collection: its stored inputs, no file read
        return _train_on_collection(root, out, opts)
    kind = opts.kind or infer_kind(root, opts.listing)
    paths = get_kind(kind).list(root, opts.listing)
    kind = _features_kind(kind, paths, opts)
    source = get_kind(kind)
    loaded = source.read(paths, None, opts.spec, workers=resolve_workers(opts.workers))
    if len(loaded.paths) < 2:
        raise SemhashError(f"fewer than two readable {kind} files in {root}.")
    encoder, info = fit_encoder(source, loaded, opts.spec)
    encoder.save(out, info)
    return {"items": len(loaded.paths), "skipped": loaded.skipped,
            "fingerprint": encoder.fingerprint(), **info}  # fmt: skip


def _train_on_collection(path: Path, out: Path, opts: IndexOptions) -> dict:
    """Train a model on the stored inputs of the collection at `path` (where its kind
    allows: a features collection's backbone features), without reading a file."""
    from semantic_hashing.retrieval.fitting import fit

    with Store.open(path, opts.spec.device) as coll:
        kind = coll.input_kind
        if opts.kind and opts.kind != kind.name:
            raise SemhashError(f"{path} is a {kind.name} collection, not a {opts.kind} one.")
        check_features(kind.name, coll.model_config, opts.spec.features, str(path))
        ids, rows = coll.live_inputs()
        if rows is None or len(ids) < 2:
            raise SemhashError(f"fewer than two stored items in {path}.")
        training = kind.stored_training(rows, coll.model_config)
        encoder, info = fit(training, opts.spec)
    encoder.save(out, info)
    return {"items": len(ids), "skipped": [], "fingerprint": encoder.fingerprint(), **info}
