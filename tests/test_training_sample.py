"""A folder larger than the training sample: the model trains on a seeded sample read on its
own, then every file is streamed through it (memory of one chunk, not of the folder)."""

from dataclasses import replace
from pathlib import Path

import numpy as np

from semantic_hashing.indexer.pipeline import index_folder, training_sample
from semantic_hashing.indexer.store import Store
from semantic_hashing.retrieval.kinds import get_kind

from .conftest import fast_options


def test_sample_is_seeded_and_in_listing_order(tmp_path):
    paths = [tmp_path / f"{i:03d}.png" for i in range(100)]
    assert training_sample(paths, 100, 0) is paths
    got = training_sample(paths, 30, 4)
    assert got == training_sample(paths, 30, 4) and got != training_sample(paths, 30, 5)
    assert len(set(got)) == 30 and got == sorted(got)


def test_large_folder_streams_every_file(image_folder, tmp_path):
    opts = fast_options(bits=16)
    opts.spec.train = replace(opts.spec.train, max_items=50)
    report = index_folder(image_folder, tmp_path / "c.semhash", opts)
    files = sorted(p for p in image_folder.rglob("*.png"))
    assert len(files) > 100 and report.added == len(files) and not report.skipped
    with Store.open(tmp_path / "c.semhash") as store:
        assert len(store.index) == len(files)
        ids = store.index.ids()
        rows = store.meta.get(ids.tolist())
        loaded = get_kind(store.kind).read([Path(rows[int(i)].path) for i in ids], None, opts.spec)
        fresh = store.encoder.encode(get_kind(store.kind).features(loaded, store.encoder))
        assert np.array_equal(fresh, store.index.codes())  # each file's code, read again
        assert store.encoder.train_info["items"] == 50  # trained on the sample read alone
