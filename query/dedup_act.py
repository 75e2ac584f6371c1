"""Acting on duplicate groups, opt-in and safe: move or link the duplicates elsewhere.

    move  each duplicate (never the kept item) goes to TARGET/<its path below the indexed
          root>; the collection then forgets the moved items through `remove_items`, the
          transaction-safe path of `semhash remove`
    link  a symbolic link TARGET/<path below the root> -> the duplicate; nothing else changes

Nothing is ever deleted or overwritten. The whole plan is checked before the first file
moves: the target must lie outside the indexed root (the common folder of the collection's
items) and outside the collection, be a folder we can write, and no destination may exist
yet. A source that is a symbolic link, or whose real path lies outside the root, is skipped
with its reason (a link is never followed out of the root). A move is a hard link at the
destination (which fails rather than replace a file), then the removal of the old name; across
file systems the bytes are copied to a temporary name in the target, fsynced and linked the
same way. `dry_run` prints the plan and changes nothing.
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from semantic_hashing.indexer import journal
from semantic_hashing.indexer.store import Store
from semantic_hashing.query.dedup import DuplicateGroup
from semantic_hashing.retrieval.errors import SemhashError
from semantic_hashing.retrieval.fsutil import fsync_dir, printable

log = logging.getLogger(__name__)

ACTIONS = ("move", "link")


@dataclass
class Step:
    id: int | None
    source: str
    target: str
    done: bool = False
    skipped: str = ""  # why this one was not acted on


@dataclass
class ActReport:
    action: str
    target: Path
    root: Path
    steps: list[Step] = field(default_factory=list)
    dry_run: bool = False
    removed: int = 0  # items the collection forgot

    @property
    def done(self) -> list[Step]:
        return [s for s in self.steps if s.done]

    def lines(self) -> list[str]:
        verb = {"move": "move", "link": "link"}[self.action]
        head = "would " + verb if self.dry_run else verb + "d" if verb == "move" else "linked"
        out = []
        for s in self.steps:
            src = printable(s.source)
            if s.skipped:
                out.append(f"skip {src}: {printable(s.skipped)}")
            else:
                out.append(f"{head} {src} -> {printable(s.target)}")
        return out


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def indexed_root(store: Store) -> Path:
    """The folder all items of `store` lie in (their deepest common folder)."""
    paths = list(store.meta.live())
    if not paths:
        raise SemhashError(f"{store.path} holds no items.")
    common = Path(os.path.commonpath(paths))
    return common.parent if len(paths) == 1 or common.is_file() else common


def check_target(target: Path, root: Path, store: Store, dry_run: bool) -> Path:
    """The resolved target folder, refused inside the root or the collection, or unwritable."""
    real = Path(os.path.realpath(target))
    if _inside(real, root):
        raise SemhashError(f"the target {target} lies inside the indexed root {root}; "
                           "choose a folder outside it.")  # fmt: skip
    if _inside(real, Path(os.path.realpath(store.path))):
        raise SemhashError(f"the target {target} lies inside the collection {store.path}.")
    if real.exists() and not real.is_dir():
        raise SemhashError(f"the target {target} exists and is not a folder.")
    if dry_run:
        return real
    try:
        real.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".semhash-probe-", dir=real)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise SemhashError(f"cannot write to the target folder {target} "
                           f"({exc.strerror or exc}).") from None  # fmt: skip
    return real


def plan(groups: list[DuplicateGroup], root: Path, target: Path) -> list[Step]:
    """One step per duplicate; sources that are links or lie outside the root are skipped."""
    steps = []
    for group in groups:
        for dup in group.duplicates:
            src = Path(dup.path)
            step = Step(dup.id, str(src), "")
            try:
                rel = src.relative_to(root)
            except ValueError:
                step.skipped = f"not below the indexed root {root}"
                steps.append(step)
                continue
            step.target = str(target / rel)
            step.skipped = _source_problem(src, root)
            steps.append(step)
    return steps


def _source_problem(src: Path, root: Path) -> str:
    if src.is_symlink():
        return "a symbolic link (not followed)"
    if not src.exists():
        return "the file is gone"
    if not _inside(Path(os.path.realpath(src)), root):
        return f"its real path lies outside the indexed root {root}"
    if not src.is_file():
        return "not a regular file"
    return ""


def act(store: Store, groups: list[DuplicateGroup], action: str, target: str | Path,
        dry_run: bool = False) -> ActReport:  # fmt: skip
    """Move or link the duplicates of `groups` below `target` (see module doc). The
    collection's writer's lock is held from before the first file moves until the moved
    items are forgotten; the plan is written to the collection's journal first, so a killed
    action is completed by the next writer (`check --repair`, a rerun, `index`)."""
    if action not in ACTIONS:
        raise SemhashError(f"unknown action {action!r}; choose move or link.")
    if any(d.id is None for g in groups for d in g.duplicates):
        raise SemhashError("only duplicates inside the collection can be moved or linked.")
    root = indexed_root(store)
    real = check_target(Path(target), root, store, dry_run)
    report = ActReport(action, real, root, plan(groups, root, real), dry_run)
    if dry_run:
        _mark_earlier_links(report)
        _refuse_clash(report)
        return report
    writer = store if store.writable else Store.open(store.path, write=True)
    try:  # under the lock: items another writer moved or removed meanwhile are skipped
        live = writer.meta.get([s.id for s in report.steps if s.id is not None])
        for step in report.steps:
            if not step.skipped and step.id not in live:
                step.skipped = "no longer in the collection (moved or removed meanwhile)"
            elif not step.skipped:
                step.skipped = _source_problem(Path(step.source), root)
        _mark_earlier_links(report)
        _refuse_clash(report)
        todo = [s for s in report.steps if not s.skipped]
        if not todo:
            return report
        journal.write(writer.path, action, [(s.id, s.source, s.target) for s in todo])
        try:
            for step in todo:
                _do(action, step)
        finally:
            moved = [s.id for s in report.done if action == "move"]
            if moved:
                report.removed = writer.remove(moved)
                writer.log_event(f"dedup moved {report.removed} items out")
            journal.clear(writer.path)
    finally:
        if writer is not store:
            writer.close()
    return report


def _mark_earlier_links(report: ActReport) -> None:
    """A link an earlier run (perhaps killed) already made is not a clash: a rerun goes on."""
    if report.action != "link":
        return
    for s in report.steps:
        if not s.skipped and os.path.islink(s.target) and os.readlink(s.target) == s.source:
            s.skipped = "already linked (by an earlier run)"


def _refuse_clash(report: ActReport) -> None:
    clash = next((s for s in report.steps if not s.skipped and os.path.lexists(s.target)), None)
    if clash is not None:
        raise SemhashError(f"{clash.target} already exists; semhash never overwrites a file: "
                           "choose an empty target folder.")  # fmt: skip


def _do(action: str, step: Step) -> None:
    dst = Path(step.target)
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        if action == "link":
            os.symlink(step.source, dst)
        else:
            _move(Path(step.source), dst)
        step.done = True
    except FileExistsError:
        step.skipped = "the destination appeared meanwhile (not overwritten)"
    except OSError as exc:
        step.skipped = f"{exc.strerror or exc}"
    if step.skipped:
        log.warning("%s %s: %s", action, step.source, step.skipped)


def _move(src: Path, dst: Path) -> None:
    """Give `src` the new name `dst` (never replacing a file there), then drop the old name."""
    try:
        os.link(src, dst)
    except OSError as exc:
        if exc.errno not in (errno.EXDEV, errno.EPERM, errno.ENOTSUP):
            raise
        fd, tmp = tempfile.mkstemp(prefix=".semhash-", dir=dst.parent)
        with os.fdopen(fd, "wb") as out, open(src, "rb") as inp:
            shutil.copyfileobj(inp, out, 1 << 20)
            out.flush()
            os.fsync(out.fileno())
        shutil.copystat(src, tmp)
        try:
            os.link(tmp, dst)
        finally:
            os.unlink(tmp)
    fsync_dir(dst.parent)
    os.unlink(src)
    fsync_dir(src.parent)
