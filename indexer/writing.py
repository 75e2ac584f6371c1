"""Writing read items into a collection, chunk by chunk: encode, give new items their ids
(items changed on disk keep theirs), commit codes, stored inputs and metadata together."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from semantic_hashing.indexer.store import Chunk, Store
from semantic_hashing.retrieval.fsutil import folder_label
from semantic_hashing.retrieval.kinds import Loaded
from semantic_hashing.retrieval.progress import progress


def item_key(path: Path, root: Path | None = None, resolved_root: Path | None = None) -> str:
    """The absolute, symlink-free path an item is stored under. For files listed below
    `root` by a walk that followed no linked folders (`resolved_root` given) only `root`
    needs resolving: a file that is itself a link is resolved on its own."""
    if root is not None and resolved_root is not None:
        text, top = str(path), str(root)
        if text.startswith(top) and text[len(top) : len(top) + 1] == os.sep and top != os.sep:
            if not os.path.islink(text):  # as `relative_to` and a join, on strings (a
                return str(resolved_root) + text[len(top) :]  # million paths: 25 s -> 2 s)
        elif not path.is_symlink():
            try:
                return str(resolved_root / path.relative_to(root))
            except ValueError:
                pass
    return _resolve(path)


def _resolve(path: Path) -> str:
    return str(path.resolve())


def file_stat(path: Path) -> tuple[int, float]:
    try:
        st = path.stat()
        return st.st_size, st.st_mtime
    except OSError:
        return -1, -1.0


def write_paths(coll, source, root, work, report, opts) -> None:
    """Read `work.todo` on every core, encoding and committing chunk by chunk while the
    workers read ahead. `read` is the time spent waiting for read files."""
    chunks = source.stream(work.todo, coll.encoder, opts.spec, opts.chunk_size, report.workers)
    while True:
        t0 = time.perf_counter()
        loaded = next(chunks, None)
        report.timings["read"] = report.timings.get("read", 0.0) + time.perf_counter() - t0
        if loaded is None:
            break
        report.skipped += loaded.skipped
        write_chunk(coll, source, loaded, root, work, report)


def write_loaded(coll, source, loaded: Loaded, root, work, report, chunk_size: int) -> None:
    """Encode and commit items already in memory, chunk by chunk."""
    report.skipped += loaded.skipped
    for start in progress(range(0, len(loaded.paths), chunk_size), desc="indexing", unit="chunk"):
        part = slice(start, start + chunk_size)
        items = loaded.items[part]
        sub = Loaded(loaded.paths[part], items, loaded.meta[part])
        write_chunk(coll, source, sub, root, work, report)


def write_chunk(coll: Store, source, loaded: Loaded, root: Path, work, report) -> None:
    if not loaded.paths:
        return
    t0 = time.perf_counter()
    inputs = source.features(loaded, coll.encoder)
    loaded, inputs = drop_unencodable(source, loaded, inputs, report)
    if not loaded.paths:
        return
    codes = coll.encoder.encode(inputs)
    report.timings["encode"] = report.timings.get("encode", 0.0) + time.perf_counter() - t0
    next_id, base = coll.meta.next_id(), work.base
    ids, new_rows, changed_rows = [], [], []
    for path, meta in zip(loaded.paths, loaded.meta, strict=True):
        size, mtime = file_stat(path)
        row = {"path": item_key(path, root, base), "label": folder_label(path, root), "size": size,
               "mtime": mtime, **meta}  # fmt: skip
        if path in work.keep_id:
            row["id"] = work.keep_id[path]
            changed_rows.append(row)
        else:
            row["id"] = next_id
            next_id += 1
            new_rows.append(row)
        ids.append(row["id"])
    t0 = time.perf_counter()
    coll.write(Chunk(np.array(ids, dtype=np.int64), codes, inputs, new_rows, changed_rows))
    report.timings["write"] = report.timings.get("write", 0.0) + time.perf_counter() - t0
    report.added += len(new_rows)
    report.changed += len(changed_rows)


def drop_unencodable(source, loaded: Loaded, inputs, report):
    """Items with nothing to encode (a document with no word of the model's vocabulary,
    whose code would be that of an empty text) are skipped with the kind's reason."""
    found = source.unencodable(inputs)
    if found is None or not found[0].any():
        return loaded, inputs
    empty, why = found
    report.skipped += [(str(loaded.paths[i]), why[i]) for i in np.flatnonzero(empty)]
    keep = np.flatnonzero(~empty)
    items = (
        loaded.items[keep]
        if isinstance(loaded.items, np.ndarray)
        else [loaded.items[i] for i in keep]
    )
    sub = Loaded([loaded.paths[i] for i in keep], items, [loaded.meta[i] for i in keep])
    return sub, inputs[keep]
