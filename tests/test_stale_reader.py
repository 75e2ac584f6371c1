"""A reader opened before another process wrote (a server between a writer's metadata commit
and its reload): a search by the id of an item written since gives that item's answer."""

import numpy as np

from semantic_hashing.indexer.pipeline import index_folder
from semantic_hashing.indexer.store import Store
from semantic_hashing.query.search import id_queries, search

from .conftest import fast_options, make_image_folder


def test_search_by_an_id_written_after_opening(tmp_path):
    root = make_image_folder(tmp_path / "photos", per_class=6)
    coll = tmp_path / "c.semhash"
    opts = fast_options(bits=16)
    index_folder(root, coll, opts)
    with Store.open(coll) as stale:
        stale.raw.get(stale.raw.ids()[:1])  # its chunk list read
        make_image_folder(tmp_path / "photos" / "more", per_class=2, seed=5)
        index_folder(root, coll, opts)  # the other writer
        with Store.open(coll) as fresh:
            new = sorted(set(fresh.index.ids().tolist()) - set(stale.index.ids().tolist()))
            assert len(new) == len(list((root / "more").rglob("*.png"))) >= 3
            queries = id_queries(stale, new[:3])
            want = fresh.index.codes_of(new[:3])
        assert queries.codes is None  # not in the stale index: encoded from the stored input
        assert np.array_equal(stale.encoder.encode(queries.inputs), want)
        assert [len(r.results) for r in search(stale, queries, k=3)] == [3, 3, 3]
