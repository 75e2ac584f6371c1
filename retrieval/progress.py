"""Progress bars and stage timers shared by every long job (tqdm; silenced by `--quiet`)."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from tqdm.auto import tqdm

log = logging.getLogger(__name__)

_enabled = True


def set_progress(enabled: bool) -> None:
    """Turn progress bars on or off for the whole process (the CLI's `--quiet`)."""
    global _enabled
    _enabled = enabled


def progress(iterable: Iterable | None = None, show: bool = True, **kwargs) -> tqdm:
    """A tqdm bar on stderr, hidden when `show` is false or `set_progress(False)` was called."""
    return tqdm(
        iterable, disable=not (_enabled and show), leave=False, dynamic_ncols=True, **kwargs
    )


@contextmanager
def timed(stage: str, timings: dict | None = None) -> Iterator[None]:
    """Log how long `stage` took and store the seconds in `timings[stage]`."""
    start = time.perf_counter()
    yield
    seconds = time.perf_counter() - start
    if timings is not None:
        timings[stage] = seconds
    log.info("%s took %.1f s", stage, seconds)
