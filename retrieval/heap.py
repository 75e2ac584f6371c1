"""Freed memory given back during long loops of batches.

A long loop of equal batches through torch can grow glibc's heap by freed blocks it keeps:
`semhash outliers` on the million-item collection (991,000 items, 2 cores) rose from 3.6 GB
resident to 9.6-12 GB in two of three runs. Fixing glibc's mmap threshold at 1 MiB kept it
at 3.6 GB but cost half as much CPU again (every mid-sized tensor mapped and faulted in
anew), so instead `HeapWatch` looks at the process's anonymous memory every few batches
and, when it has grown by more than `slack` since the loop began, asks glibc to give its
free pages back (`malloc_trim`): nothing is paid while the heap stays put.
"""

from __future__ import annotations

import ctypes
import functools
import logging

log = logging.getLogger(__name__)
SLACK = 1 << 30  # growth of anonymous memory tolerated before trimming
EVERY = 16  # batches between looks


def status_kb(key: str, pid: int | str = "self") -> int | None:
    """One kB figure of /proc/PID/status (VmRSS, VmHWM, RssAnon, ...); None where the
    process or /proc is not there."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith(f"{key}:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def anonymous_bytes() -> int:
    """This process's resident anonymous memory (0 where /proc is not there)."""
    return (status_kb("RssAnon") or 0) * 1024


@functools.cache
def _trim():
    try:
        return ctypes.CDLL(None).malloc_trim  # glibc's
    except (OSError, AttributeError):  # another C library: nothing to call
        return None


class HeapWatch:
    """Call `tick()` once per batch: every `every` batches, a heap grown by more than
    `slack` bytes since the watch began is trimmed."""

    def __init__(self, slack: int = SLACK, every: int = EVERY):
        self.slack, self.every, self.n = slack, every, 0
        self.base = anonymous_bytes()

    def tick(self) -> None:
        self.n += 1
        if self.n % self.every or _trim() is None:
            return
        grown = anonymous_bytes() - self.base
        if grown > self.slack:
            _trim()(0)
            log.debug("heap trimmed at batch %d: %.2f GB grown, %.2f GB after", self.n,
                      grown / 2**30, (anonymous_bytes() - self.base) / 2**30)  # fmt: skip
