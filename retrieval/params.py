"""The code length, owned here: its default and its one check (light: no torch, no numpy,
so the command line reads the default without loading a model)."""

from __future__ import annotations

from semantic_hashing.retrieval.errors import SemhashError

DEFAULT_BITS = 64  # code length of a new model
MAX_ID = 2**63 - 1  # item ids are SQL BIGINTs and FAISS int64 labels: 0..MAX_ID
MIN_BITS, MAX_BITS = 8, 1024


def check_bits(bits) -> int:
    """`bits` when semhash can make and index codes of that length, else the one sentence
    that every entry point (options, model configs, benchmarks) refuses it with."""
    valid = isinstance(bits, int) and not isinstance(bits, bool)
    if not valid or not MIN_BITS <= bits <= MAX_BITS or bits % 8:
        raise SemhashError(
            f"--bits must be a multiple of 8 from {MIN_BITS} to {MAX_BITS}, not {bits}."
        )
    return bits
