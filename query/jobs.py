"""Whole jobs over a collection path, one call per command of `semhash/cli_jobs.py`:
open the collection, do the work, write the requested files, close."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from semantic_hashing.indexer.store import Store
from semantic_hashing.query.dedup import DedupOptions, DuplicateGroup, find_duplicates, folder_items
from semantic_hashing.retrieval.errors import SemhashError, UnknownItem
from semantic_hashing.retrieval.kinds import Kind


@dataclass
class DedupJob:
    options: DedupOptions = field(default_factory=DedupOptions)
    against: Path | None = None  # another collection
    query: Path | None = None  # a folder of files
    csv: Path | None = None
    sheet: Path | None = None
    action: str | None = None  # "move" or "link"
    target: Path | None = None
    dry_run: bool = False
    device: str = "cpu"
    selection: Path | None = None  # reviewed groups (query/selection.py): only those


@dataclass
class DedupResult:
    groups: list[DuplicateGroup]
    stats: dict
    act: object | None = None  # dedup_act.ActReport
    skipped: list[tuple[str, str]] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)


def _check_job(job: DedupJob, kind: Kind) -> None:
    if job.against is not None and job.query is not None:
        raise SemhashError("give --against or --query, not both.")
    if job.action and (job.against is not None or job.query is not None):
        raise SemhashError("--move-to and --link-to act on the collection's own duplicates; "
                           "they cannot be combined with --against or --query.")  # fmt: skip
    if job.dry_run and not job.action:
        raise SemhashError("--dry-run needs --move-to or --link-to.")
    if job.sheet:
        kind.check_sheet()


def dedup_collection(path: str | Path, job: DedupJob) -> DedupResult:
    """Find duplicate groups in the collection at `path` (or of --against / --query items in
    it), write the CSV and sheet asked for, and move or link the duplicates if asked."""
    from semantic_hashing.query import dedup_render
    from semantic_hashing.query.dedup_act import act, check_target, indexed_root

    with Store.open(path, job.device) as store:
        _check_job(job, store.input_kind)
        if job.action:  # refuse a bad target before the work
            check_target(Path(job.target), indexed_root(store), store, job.dry_run)
        stats: dict = {}
        skipped: list = []
        against = None
        if job.selection is not None:
            from semantic_hashing.query.selection import read_selection, selected_groups

            picked = read_selection(job.selection, "dedup")  # refused before any work
        if job.query is not None:
            against, skipped = folder_items(store, job.query)
        elif job.against is not None:
            against = Store.open(job.against, job.device)
        try:
            if job.selection is not None:
                groups = selected_groups(store, picked, job.selection)
                stats.update(items=len(store.index), groups=len(groups),
                             duplicates=sum(len(g.duplicates) for g in groups))  # fmt: skip
            else:
                groups = find_duplicates(store, against, job.options, stats)
        finally:
            if isinstance(against, Store):
                against.close()
        result = DedupResult(groups, stats, skipped=skipped)
        if job.csv:
            result.files.append(dedup_render.write_csv(groups, job.csv))
        if job.sheet and groups:  # nothing to draw: no blank picture
            result.files.append(dedup_render.group_sheet(groups, job.sheet))
        if job.action:
            result.act = act(store, groups, job.action, job.target, job.dry_run)
    return result


def outliers_collection(path: str | Path, top: int = 20, metric: str = "loss",
                        sheet: Path | None = None, device: str = "cpu",
                        selection: Path | None = None) -> list:  # fmt: skip
    """The `top` outliers of the collection at `path` (or only those of a reviewed
    `selection`, query/selection.py); a sheet of them when asked."""
    from semantic_hashing.query.jobs_render import outlier_sheet
    from semantic_hashing.query.outliers import find_outliers

    with Store.open(path, device) as store:
        if sheet:
            store.input_kind.check_sheet()
        if selection is not None:
            from semantic_hashing.query.selection import read_selection, selected_outliers

            found = selected_outliers(store, read_selection(selection, "outliers"), selection)
        else:
            found = find_outliers(store, top, metric)
    if sheet:
        outlier_sheet(found, sheet)
    return found


def reconstructions(store: Store, ids: list[int] | None = None, query: Path | None = None,
                    seed: int = 0):  # fmt: skip
    """Input, corrupted copy and reconstructions of stored items (`ids`) or of the files of
    `query`: (reconstructions, skipped files)."""
    from semantic_hashing.query.reconstruct import reconstruct, stored_inputs
    from semantic_hashing.query.search import load_queries

    if bool(ids) == (query is not None):
        raise SemhashError("give --id or --query (not both).")
    if ids:
        rows = store.meta.get(ids)
        missing = [i for i in ids if i not in rows]
        if missing:
            raise UnknownItem(f"id {missing[0]} is not in {store.path}.")
        inputs = stored_inputs(store, ids)
        return reconstruct(store, inputs, [rows[i].path for i in ids], list(ids), seed), []
    queries = load_queries(store, query)
    if not queries.names:
        raise SemhashError(f"nothing in {query} could be used.")
    names = queries.names
    return reconstruct(store, queries.inputs, names, [None] * len(names), seed), queries.skipped


def reconstruct_collection(path: str | Path, ids: list[int] | None = None,
                           query: Path | None = None, sheet: Path | None = None,
                           seed: int = 0, device: str = "cpu"):  # fmt: skip
    """`reconstructions` of the collection at `path`, drawn into `sheet` when asked."""
    from semantic_hashing.query.jobs_render import reconstruction_sheet

    with Store.open(path, device) as store:
        if sheet:
            store.input_kind.check_sheet("reconstruction")
        recs, skipped = reconstructions(store, ids, query, seed)
    if sheet:
        reconstruction_sheet(recs, sheet)
    return recs, skipped
