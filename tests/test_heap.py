"""Large freed blocks go back to the system once `return_large_blocks` ran: the heap does
not keep the holes a loop of equal batches leaves (retrieval/heap.py)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from semantic_hashing.retrieval.heap import return_large_blocks

# 200 blocks of 4 MiB, every other one freed: holes in the middle of glibc's heap, which it
# cannot give back, unless each block was mapped on its own
PROBE = """
import numpy as np, sys
from semantic_hashing.retrieval.heap import return_large_blocks
if sys.argv[1] == "fixed":
    assert return_large_blocks()
def anon():
    for line in open("/proc/self/status"):
        if line.startswith("RssAnon:"):
            return int(line.split()[1]) // 1024
warm = np.ones(1 << 20, np.float32); del warm  # glibc's threshold adapts to 4 MiB here
blocks = [np.ones(1 << 20, np.float32) for _ in range(200)]
full = anon()
del blocks[::2]
print(full - anon())
"""


def _freed_mb(mode: str) -> int:
    done = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True,
                          timeout=120, check=True)  # fmt: skip
    return int(done.stdout)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc")
def test_freed_large_blocks_leave_the_process():
    assert return_large_blocks() is True
    assert _freed_mb("fixed") >= 350  # 100 blocks of 4 MiB given back
    assert _freed_mb("adaptive") < 100  # glibc's default keeps them in its heap
