"""The collection info the page shows on every view: counted by the database, once per
state of the collection."""

from __future__ import annotations

import shutil

from semantic_hashing.indexer import api as store_api
from semantic_hashing.indexer.metadata import MetadataStore
from semantic_hashing.query import api


def test_info_counts_in_sql_once_per_state(collection, tmp_path, monkeypatch):
    """The page's collection info: rows and labels counted by the database (never every
    row read into Python), once per state of the collection, and fresh after a change."""
    path = tmp_path / "c.semhash"
    shutil.copytree(collection, path)
    with api.open(path) as coll:
        labels = coll.store.meta.labels()
        want = (len(labels), len(set(labels.values())))

        def no_row_reading(self):
            raise AssertionError("info read every row")

        monkeypatch.setattr(MetadataStore, "labels", no_row_reading)
        calls = []
        counts = MetadataStore.label_counts
        monkeypatch.setattr(MetadataStore, "label_counts",
                            lambda self: calls.append(1) or counts(self))  # fmt: skip
        info = coll.info()
        assert (info["metadata_rows"], info["labels"]) == want and want[1] == 3
        coll.info()
        assert len(calls) == 1
        monkeypatch.undo()
        store_api.remove(path, [int(next(iter(labels)))])
        assert coll.refresh()
        assert coll.info()["metadata_rows"] == want[0] - 1
