"""The one folder walk behind image and text listings: which files of a folder are taken.

Hidden files and folders (names starting with '.') and the junk folders that photo tools
and file managers leave behind (`@eaDir`, `__MACOSX`, `.thumbnails`, ...) are skipped by
default and counted; `--exclude`/`--include` globs narrow the listing; symlinked folders
are entered only with `follow_links` (each real folder once, so a link loop ends), and are
otherwise listed among the skipped with the reason.
"""

from __future__ import annotations

import fnmatch
import logging
import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from semantic_hashing.retrieval.errors import SemhashError

log = logging.getLogger(__name__)

# Folders of thumbnails, previews, resource forks and trash that hold no one's photos.
JUNK_FOLDERS = frozenset({
    "@eaDir", "__MACOSX", ".thumbnails", ".thumbs", ".AppleDouble", ".Trashes", ".Trash",
    ".Spotlight-V100", ".fseventsd", "$RECYCLE.BIN", "System Volume Information", "#recycle",
    "#snapshot", ".@__thumb", "@Recycle", ".picasaoriginals", ".dtrash",
})  # fmt: skip
JUNK_FILES = frozenset({"Thumbs.db", "desktop.ini", ".DS_Store"})
LINK_NOT_FOLLOWED = "symlinked folder not followed (use --follow-links)"
LINK_SEEN = "symlinked folder already listed (a link loop or a second link to it)"


@dataclass(frozen=True)
class ListingRules:
    """Which files a folder walk takes. Globs match a file's path relative to the walked
    folder (`2019/*.png`) or its name alone (`*.png`); an excluded folder is not entered."""

    include_hidden: bool = False  # take names starting with '.' and the junk folders
    exclude: tuple[str, ...] = ()
    include: tuple[str, ...] = ()  # when given, only files matching one of them
    follow_links: bool = False  # enter symlinked folders (each real folder once)

    def __post_init__(self):
        for glob in (*self.exclude, *self.include):
            if not glob or not glob.strip():
                raise SemhashError("an --exclude or --include pattern is empty.")


@dataclass
class Listing:
    """The files taken, the folders skipped with a reason, and counts of what was left out
    by rule (`hidden`, `junk`, `excluded`, `not included`)."""

    paths: list[Path] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    left_out: Counter = field(default_factory=Counter)

    def summary(self) -> str:
        """'hidden 3, junk 1, ...' or '' when nothing was left out by rule."""
        parts = [f"{k} {v}" for k, v in sorted(self.left_out.items()) if v]
        return ", ".join(parts)


def _matches(rel: str, name: str, globs: tuple[str, ...]) -> bool:
    return any(fnmatch.fnmatchcase(rel, g) or fnmatch.fnmatchcase(name, g) for g in globs)


def _left_out(name: str, rel: str, rules: ListingRules, folder: bool) -> str:
    """Why a file or folder is left out by rule ('' if it is not)."""
    if not rules.include_hidden:
        if name in (JUNK_FOLDERS if folder else JUNK_FILES):
            return "junk"
        if name.startswith("."):
            return "hidden"
    if rules.exclude and _matches(rel, name, rules.exclude):
        return "excluded"
    if not folder and rules.include and not _matches(rel, name, rules.include):
        return "not included"
    return ""


def _real_id(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _parts(path: Path) -> tuple[str, ...]:
    return path.parts


def walk(root: str | Path, accept: Callable[[Path], bool], rules: ListingRules | None = None):
    """Files below `root` that `accept` takes and the rules allow, sorted, as a `Listing`.
    A file given as `root` is taken if `accept` takes it."""
    root, rules = Path(root), rules or ListingRules()
    out = Listing()
    if root.is_file():
        out.paths = [root] if accept(root) else []
        return out
    seen = {_real_id(str(root))}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=rules.follow_links):
        here = Path(dirpath)
        rel_dir = here.relative_to(root)
        keep = []
        for name in sorted(dirnames):
            rel, full = (rel_dir / name).as_posix(), os.path.join(dirpath, name)
            if reason := _left_out(name, rel, rules, folder=True):
                out.left_out[f"{reason} folders"] += 1
            elif os.path.islink(full) and not rules.follow_links:
                out.skipped.append((full, LINK_NOT_FOLLOWED))
            elif rules.follow_links and (real := _real_id(full)) in seen:
                out.skipped.append((full, LINK_SEEN))
            else:
                if rules.follow_links:
                    seen.add(real)
                keep.append(name)
        dirnames[:] = keep
        prefix = "" if rel_dir == Path(".") else rel_dir.as_posix() + "/"
        for name in filenames:
            path = here / name
            if not accept(path):
                continue
            if reason := _left_out(name, prefix + name, rules, folder=False):
                out.left_out[f"{reason} files"] += 1
            else:
                out.paths.append(path)
    out.paths.sort(key=_parts)  # Path order, compared as tuples (a million: 6 s -> 1 s)
    for path, reason in out.skipped:
        log.debug("not listed %s: %s", path, reason)
    return out
