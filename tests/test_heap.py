"""A loop's heap that grew by freed blocks is given back (retrieval/heap.py): measured in
a process of its own, with holes glibc keeps unless asked to trim."""

from __future__ import annotations

import subprocess
import sys

import pytest

# 200 blocks of 4 MiB, every other one freed: holes in the middle of glibc's heap, which it
# keeps (its mmap threshold adapted to 4 MiB after the first block was freed)
PROBE = """
import sys
import numpy as np
from semantic_hashing.retrieval.heap import HeapWatch, anonymous_bytes
warm = np.ones(1 << 20, np.float32); del warm
watch = HeapWatch(slack=int(sys.argv[1]) << 20, every=1)
blocks = [np.ones(1 << 20, np.float32) for _ in range(200)]
del blocks[::2]
before = anonymous_bytes()
watch.tick()
print((before - anonymous_bytes()) >> 20)
"""


def _given_back_mb(slack_mb: int) -> int:
    done = subprocess.run([sys.executable, "-c", PROBE, str(slack_mb)], capture_output=True,
                          text=True, timeout=120, check=True)  # fmt: skip
    return int(done.stdout)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc and /proc")
def test_a_grown_heap_is_trimmed_and_a_small_growth_left_alone():
    assert _given_back_mb(slack_mb=100) >= 350  # grew by 800 MB: the 400 MB of holes go back
    assert _given_back_mb(slack_mb=4000) < 50  # within the slack: nothing is done
