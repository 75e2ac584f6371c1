"""Reading files on every core: a bounded read-ahead pool whose results come in order.

Decoding (Pillow's decoders, resampling, SHA-256 and file reads) runs outside Python's
GIL: about 83% of a 6 MP JPEG's read time, so threads can use most of the cores (a
process pool, `pool="process"`, measured no clear gain on the shared 2-core machine; see
issue 14's note). The consumer (encoding, writing) runs while the workers read ahead. At
most `ahead` results wait at a time, so memory does not grow with the number of files. A
file whose reader raises the expected error comes back as that error (the caller skips it
with its message); any other exception stops the run.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from functools import partial

from semantic_hashing.retrieval.errors import SemhashError

POOLS: dict[str, type[Executor]] = {"thread": ThreadPoolExecutor, "process": ProcessPoolExecutor}


def cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def resolve_workers(workers: int | None) -> int:
    """`workers`, or every core when None; fewer than one is a user error."""
    if workers is None:
        return cores()
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise SemhashError(f"--workers must be a whole number of at least 1, not {workers!r}.")
    return workers


def _attempt(read: Callable, error: type[Exception], item):
    try:
        return read(item)
    except error as exc:
        return exc


def read_in_order(
    read: Callable, items: Iterable, error: type[Exception], workers: int = 1,
    ahead: int = 256, pool: str = "thread",
) -> Iterator:  # fmt: skip
    """`read(item)` for each item, in order, on `workers` workers ('thread' or 'process';
    a process pool needs a picklable `read`); an item whose read raises `error` yields the
    exception instead. One worker reads in this thread, with no pool at all."""
    attempt = partial(_attempt, read, error)
    if workers <= 1:
        yield from map(attempt, items)
        return
    ahead = max(ahead, 2 * workers)
    with POOLS[pool](max_workers=workers) as executor:
        waiting: deque = deque()
        try:
            for item in items:
                waiting.append(executor.submit(attempt, item))
                if len(waiting) >= ahead:
                    yield waiting.popleft().result()
            while waiting:
                yield waiting.popleft().result()
        finally:  # a consumer that stops early (an error, a kill) cancels the rest
            for future in waiting:
                future.cancel()
