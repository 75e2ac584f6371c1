"""Asymmetric distances: the level table against loops written out by hand, the checkpoint,
and `semhash search --asymmetric` against brute force, in-process and as processes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from semantic_hashing.indexer.store import Store
from semantic_hashing.query import search as search_mod
from semantic_hashing.retrieval.asymmetric import bit_groups, fit_levels
from semantic_hashing.retrieval.codes import HashEncoder, hamming, itq, pack_bits, thermometer
from semantic_hashing.retrieval.errors import SemhashError

SEMHASH = Path(sys.executable).with_name("semhash")


def without_levels(src: Path, dst: Path) -> None:
    """`src` saved again at `dst` as before asymmetric distances existed (no level table)."""
    ckpt = torch.load(src, weights_only=True)
    del ckpt["levels"]
    torch.save(ckpt, dst)


def by_hand(real, projection, thresholds, query):
    """Group bits by projection column, centroid per level by a loop, distance by a loop."""
    proj = real @ projection
    qproj = query @ projection
    columns = [tuple(projection[:, j]) for j in range(projection.shape[1])]
    groups = list(dict.fromkeys(columns))
    out = np.zeros((len(query), len(real)))
    for g in groups:
        cols = [j for j, c in enumerate(columns) if c == g]
        level = (proj[:, cols] > thresholds[cols]).sum(1)
        centroid = {lv: proj[level == lv, cols[0]].mean() for lv in np.unique(level)}
        for i in range(len(query)):
            for n in range(len(real)):
                out[i, n] += (qproj[i, cols[0]] - centroid[level[n]]) ** 2
    return out


@pytest.mark.parametrize("quantiser", [thermometer, itq])
def test_level_table_equals_the_loops(quantiser):
    rng = np.random.default_rng(0)
    real = rng.normal(size=(300, 16)) * np.linspace(3, 0.2, 16)
    query = rng.normal(size=(7, 16)) * np.linspace(3, 0.2, 16)
    projection, thresholds = quantiser(real.astype(np.float32), 16)
    groups = bit_groups(projection, 16)
    table = fit_levels(real @ projection, thresholds, groups)
    packed = pack_bits(real @ projection > thresholds)
    got = table.distances(table.query_values(query @ projection), table.decode(packed))
    want = by_hand(real, projection.astype(np.float64), thresholds, query)
    assert np.allclose(got, want, rtol=1e-4, atol=1e-4)
    if quantiser is thermometer:  # strong components get several bits, contiguous
        sizes = np.bincount(groups)
        assert sizes.max() > 1 and np.all(np.diff(groups) >= 0)
    else:  # one bit per ITQ direction
        assert np.array_equal(groups, np.arange(16))


def test_identity_quantiser_and_empty_level():
    values = np.array([[0.0], [0.0], [1.0], [3.0]])
    table = fit_levels(values, np.array([0.5]), bit_groups(None, 1))
    assert table.centroids.tolist() == [[0.0, 2.0]]  # mean below and above the cut
    # two cuts on one value, no item between them: that level gets their midpoint
    twice = fit_levels(np.array([[0.0, 0.0], [3.0, 3.0]]), np.array([1.0, 2.0]),
                       np.array([0, 0]))  # fmt: skip
    assert twice.centroids.tolist() == [[0.0, 1.5, 3.0]]
    assert twice.levels(pack_bits(np.array([[1, 1], [1, 0], [0, 0]]))).ravel().tolist() == [2, 1, 0]


def test_levels_survive_the_checkpoint_and_old_models_say_so(collection, tmp_path):
    encoder = Store.open(collection).encoder
    assert encoder.levels is not None
    encoder.save(tmp_path / "m.pt")
    again = HashEncoder.load(tmp_path / "m.pt")
    assert np.array_equal(again.levels.groups, encoder.levels.groups)
    assert np.array_equal(again.levels.centroids, encoder.levels.centroids, equal_nan=True)
    assert again.fingerprint() == encoder.fingerprint()  # the codes did not change
    without_levels(tmp_path / "m.pt", tmp_path / "old.pt")
    old = HashEncoder.load(tmp_path / "old.pt")
    assert old.levels is None and old.fingerprint() == encoder.fingerprint()
    with pytest.raises(SemhashError, match="train a new one"):
        old.query_values(np.zeros((1, old.bits), np.float32))


def brute_force(coll, queries):
    """(asymmetric distances, Hamming distances) of every query to every stored item."""
    enc = coll.encoder
    ids = coll.index.ids()
    real = enc.real(queries.inputs)
    decoded = enc.levels.decode(coll.index.codes_of(ids))
    asym = enc.levels.distances(enc.query_values(real), decoded)
    return ids, asym, hamming(enc.binarize(real), coll.index.codes_of(ids))


def test_search_asymmetric_equals_brute_force(collection):
    coll = Store.open(collection)
    queries = search_mod.id_queries(coll, [0, 7, 33])
    ids, asym, ham = brute_force(coll, queries)  # 200 items: the shortlist is all of them
    results = search_mod.search(coll, queries, k=12, asymmetric=True)
    for row, result in enumerate(results):
        assert result.method == "hamming+asymmetric"
        got = np.array([h.distance for h in result.results])
        want = np.sort(asym[row])[:12]
        assert np.allclose(got, want, atol=1e-3)  # the 12 smallest, in order
        for hit in result.results:  # each id's own distance
            assert abs(hit.distance - asym[row][ids == hit.id][0]) < 1e-3
    # a radius ball: the same members as by Hamming, ordered by the asymmetric distance
    plain = search_mod.search(coll, queries, radius=3, k=None)
    ball = search_mod.search(coll, queries, radius=3, k=None, asymmetric=True)
    for p, b, row in zip(plain, ball, range(3), strict=True):
        assert {h.id for h in p.results} == {h.id for h in b.results}
        assert all(ham[row][ids == h.id][0] <= 3 for h in b.results)
        dist = [h.distance for h in b.results]
        assert dist == sorted(dist)


def semhash(*args) -> subprocess.CompletedProcess:
    return subprocess.run([str(SEMHASH), *map(str, args)], capture_output=True, text=True,
                          timeout=300)  # fmt: skip


def test_asymmetric_search_as_processes(collection, image_folder, tmp_path):
    query = next(image_folder.rglob("*.png"))
    done = semhash("search", collection, "--query", query, "-k", 5, "--asymmetric", "--json")
    assert done.returncode == 0, done.stderr
    hits = json.loads(done.stdout.splitlines()[0])["results"]
    dist = [h["distance"] for h in hits]
    assert len(hits) == 5 and dist == sorted(dist)
    assert any(h["path"].endswith(query.name) for h in hits)  # the query's own item
    table = semhash("search", collection, "--query", query, "-k", 5, "--asymmetric")
    assert table.returncode == 0 and "(hamming+asymmetric, 5 results)" in table.stdout
    bad = semhash("search", collection, "--id", 0, "--asymmetric", "--baseline", "raw")
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
    assert "does not apply to --baseline" in bad.stderr
    # a collection whose model predates the level table: one sentence, no traceback
    old = tmp_path / "old.semhash"
    subprocess.run(["cp", "-r", str(collection), str(old)], check=True)
    without_levels(old / "model.pt", old / "model.pt")
    stale = semhash("search", old, "--id", 0, "--asymmetric")
    assert stale.returncode == 1 and "Traceback" not in stale.stderr, stale.stderr
    assert "saved before asymmetric re-ranking existed" in stale.stderr
    assert semhash("search", old, "--id", 0).returncode == 0, "plain search still works"


def test_evaluate_scores_what_search_asymmetric_answers(collection, image_folder):
    """`evaluate`'s asymmetric row is P@10 of `search --asymmetric`, worked out by hand."""
    from semantic_hashing.query.evaluate import evaluate_folder

    coll = Store.open(collection)
    result = evaluate_folder(coll, image_folder, limit=20, seed=1)
    queries = search_mod.load_queries(coll, image_folder)
    picks = np.sort(np.random.default_rng(1).choice(len(queries.names), 20, replace=False))
    sub = type(queries)([queries.names[i] for i in picks], queries.inputs[picks])
    found = search_mod.search(coll, sub, k=10, asymmetric=True)
    labels = {i: r.label for i, r in coll.meta.get(coll.index.ids()).items()}
    hits = [labels[h.id] == Path(name).parent.name for name, res in zip(sub.names, found,
            strict=True) for h in res.results]  # fmt: skip
    assert result["asymmetric"]["p@10"] == pytest.approx(np.mean(hits))
    assert set(result) >= {"codes", "asymmetric", "raw"}


@pytest.mark.parametrize("damage", [{"groups": "not a tensor"}, "drop-centroids", "short"])
def test_damaged_level_table_is_one_sentence(collection, tmp_path, damage):
    ckpt = torch.load(Store.open(collection).path / "model.pt", weights_only=True)
    if damage == "drop-centroids":
        del ckpt["levels"]["centroids"]
    elif damage == "short":
        ckpt["levels"]["groups"] = ckpt["levels"]["groups"][:3]
    else:
        ckpt["levels"] = damage
    torch.save(ckpt, tmp_path / "bad.pt")
    with pytest.raises(SemhashError, match="is not a semhash model checkpoint"):
        HashEncoder.load(tmp_path / "bad.pt")
