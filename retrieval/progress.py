"""Progress bars and stage timers shared by every long job (tqdm; silenced by `--quiet`,
or in Python by `semantic_hashing.set_progress(False)`). A bar for a single step (one
query file, one batch) is never shown: it would say nothing about progress."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from tqdm.auto import tqdm

log = logging.getLogger(__name__)

_enabled = True


def set_progress(enabled: bool) -> None:
    """Turn progress bars on or off for the whole process (the CLI's `--quiet`; in Python
    `semantic_hashing.set_progress(False)` before `index`, `train` or a collection's jobs)."""
    global _enabled
    _enabled = bool(enabled)


def progress(iterable: Iterable | None = None, show: bool = True, **kwargs) -> tqdm:
    """A tqdm bar on stderr, hidden when `show` is false, `set_progress(False)` was called,
    or there is at most one step to count."""
    total = kwargs.get("total")
    if total is None and iterable is not None and hasattr(iterable, "__len__"):
        total = len(iterable)
    single = total is not None and total <= 1
    return tqdm(
        iterable,
        disable=not (_enabled and show) or single,
        leave=False,
        dynamic_ncols=True,
        **kwargs,
    )


@contextmanager
def timed(stage: str, timings: dict | None = None) -> Iterator[None]:
    """Log how long `stage` took and store the seconds in `timings[stage]`."""
    start = time.perf_counter()
    yield
    seconds = time.perf_counter() - start
    if timings is not None:
        timings[stage] = seconds
    log.debug("%s took %.1f s", stage, seconds)  # reports print the totals that matter
