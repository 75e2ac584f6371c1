"""The raw store reads what it is asked for: ids from the chunks' id lists, rows through
memory maps, the same answers as loading every chunk, and damage still found."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from scipy import sparse

from semantic_hashing.indexer.raw_store import RawStore


def filled(tmp_path, chunks: int = 6, per: int = 500, width: int = 3072) -> RawStore:
    """Chunks of seeded pixel rows; the last chunk re-stores a few ids (newest wins)."""
    rng = np.random.default_rng(0)
    store = RawStore(tmp_path / "raw")
    store.folder.mkdir()
    for c in range(chunks):
        store.append(np.arange(c * per, (c + 1) * per), rng.integers(0, 256, (per, width),
                                                                     dtype=np.uint8))  # fmt: skip
    store.append(np.array([3, 700, 2999]), np.full((3, width), 7, np.uint8))
    return store


def test_ids_and_rows_agree_with_loading_everything(tmp_path):
    store = filled(tmp_path)
    ids = store.ids()
    want = np.random.default_rng(1).permutation(np.r_[ids[::37], [3, 700, 2999, 3]])
    got = store.get(want)
    fresh = RawStore(store.folder)
    all_ids, rows = fresh.all()  # the old way: every chunk in memory
    assert np.array_equal(ids, all_ids)
    assert np.array_equal(got, fresh.get(want))  # from the cache all() filled
    assert np.array_equal(got, rows[np.searchsorted(all_ids, want)])
    assert (got[want == 700] == 7).all()
    with pytest.raises(KeyError):
        store.get([3000])


def test_one_row_does_not_load_the_store(tmp_path):
    store = filled(tmp_path, chunks=8, per=1000)  # 8 x 3 MB of rows
    tracemalloc.start()
    store.get([4321])
    store.ids()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 2 * 2**20  # ids and one row, not 24 MB of rows


def test_a_garbled_chunk_is_left_out_and_reported(tmp_path):
    store = filled(tmp_path)
    path = store.folder / "00000002.npz"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one byte inside the rows: only the checksum tells
    path.write_bytes(bytes(data))
    fresh = RawStore(store.folder)
    assert list(fresh.damaged()) == [2]
    assert not np.isin(np.arange(1000, 1500), fresh.ids()).any()
    assert np.array_equal(fresh.ids(), fresh.all()[0])
    path.write_bytes(bytes(data[:100]))  # truncated: its structure is gone too
    fresh = RawStore(store.folder)
    assert not np.isin(np.arange(1000, 1500), fresh.ids()).any()
    with pytest.raises(KeyError):
        fresh.get([1200])


def test_text_rows_are_read_as_before(tmp_path):
    store = RawStore(tmp_path / "raw")
    store.folder.mkdir()
    rows = sparse.random(50, 300, density=0.05, format="csr", random_state=0, dtype=np.float32)
    store.append(np.arange(50), rows)
    assert np.array_equal(store.ids(), np.arange(50))
    assert (store.get([4, 9]) != rows[[4, 9]]).nnz == 0


def test_a_garbled_chunk_is_never_read_as_rows(tmp_path):
    """Read straight away (no `damaged()` first), a chunk whose rows fail their checksum
    gives no rows at all, one asked for or all of them: never the garbled pixels."""
    store = filled(tmp_path)
    path = store.folder / "00000002.npz"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    for ids in ([1200], list(range(3000))):
        with pytest.raises(KeyError, match="no readable stored input"):
            RawStore(store.folder).get(ids)
    assert np.array_equal(RawStore(store.folder).get([10, 2500]), store.get([10, 2500]))


def test_rows_appended_by_another_writer_are_found(tmp_path):
    """A reader that located the chunks before another process appended one (a server
    between a writer's commit and its reload) finds the new ids, pixel and text rows."""
    for rows in (np.full((4, 12), 9, np.uint8), sparse.csr_matrix(np.eye(4, 12, dtype=np.float32))):
        folder = tmp_path / f"raw{rows.__class__.__name__}"
        folder.mkdir()
        reader = RawStore(folder)
        reader.append(np.arange(4), rows)
        reader.get([1])  # chunk list read and cached
        RawStore(folder).append(np.arange(10, 14), rows)  # the other writer
        got = reader.get([12, 1])
        want = rows[[2, 1]]
        assert np.array_equal(
            got.toarray() if sparse.issparse(got) else got,
            want.toarray() if sparse.issparse(want) else want,
        )
    with pytest.raises(KeyError, match="no stored input for id 99"):
        reader.get([99])
