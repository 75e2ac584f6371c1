"""Dedup on a features collection looks near copies up by a hash of the stored small copies
(`Kind.candidate_codes`), not by the codes of what is in a photo, then verifies them as an
image collection does."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy.fft import dctn

from semantic_hashing.indexer import api as store_api
from semantic_hashing.indexer.store import Store
from semantic_hashing.query.dedup import candidate_bits, dedup_items, find_duplicates
from semantic_hashing.retrieval.codes import hamming, pack_bits
from semantic_hashing.retrieval.similarity import dct_hash

from .test_kind_features import SIZE, installed, photo, semhash


def test_dct_hash_is_the_low_frequencies_against_their_median():
    x = np.random.default_rng(0).integers(0, 256, (40, 3, 32, 32)).astype(np.uint8)
    gray = 0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2]
    coef = dctn(gray.astype(np.float32), axes=(1, 2), norm="ortho")[:, :8, :8].reshape(40, 64)
    want = pack_bits(coef > np.median(coef[:, 1:], axis=1, keepdims=True))
    assert np.array_equal(dct_hash(x), want)
    assert np.array_equal(dct_hash(x[:1]), want[:1])  # one image, one code, in any batch
    one = dct_hash(x[:, :1])  # a gray image: its only channel
    assert one.shape == (40, 8) and not np.array_equal(one, want)


def near_copy(src: Path, dst: Path, seed: int) -> None:
    """A 5% crop, 10% brighter, saved as a JPEG of quality 40."""
    img = Image.open(src).convert("RGB")
    w, h = img.size
    dx, dy = int(0.05 * w), int(0.05 * h)
    img = img.crop((dx, dy, w - dx, h - dy)).resize((w, h), Image.Resampling.BILINEAR)
    arr = np.asarray(img, np.float32) * 1.1 + np.random.default_rng(seed).normal(0, 2, (h, w, 3))
    Image.fromarray(arr.clip(0, 255).astype(np.uint8)).save(dst, quality=40)


@pytest.fixture(scope="module")
def copies(tmp_path_factory) -> tuple[Path, set[frozenset[str]]]:
    root = tmp_path_factory.mktemp("dups") / "photos"
    root.mkdir()
    for i in range(12):
        photo(root / f"p{i:02d}.jpg", 96, 72, 500 + i, i % 3)
    truth = set()
    for i in (1, 4, 7):
        near_copy(root / f"p{i:02d}.jpg", root / f"p{i:02d}-copy.jpg", i)
        truth.add(frozenset({f"p{i:02d}.jpg", f"p{i:02d}-copy.jpg"}))
    (root / "p09-same.jpg").write_bytes((root / "p09.jpg").read_bytes())
    truth.add(frozenset({"p09.jpg", "p09-same.jpg"}))
    return root, truth


@installed
def test_near_copies_are_found_by_the_small_copies_hash(copies, tmp_path):
    root, truth = copies
    coll = tmp_path / "f.semhash"
    store_api.index(root, coll, features="efficientnet-lite0", image_size=SIZE, bits=16,
                    epochs=2)  # fmt: skip
    with Store.open(coll) as store:
        assert candidate_bits(store) == 64 != store.bits
        items = dedup_items(store, need_inputs=False)
        assert items.codes.shape == (16, 8)  # the hash, not the 16-bit codes
        names = [Path(p).name for p in items.paths]
        a, b = names.index("p04.jpg"), names.index("p04-copy.jpg")
        assert hamming(items.codes[[a]], items.codes[[b]])[0, 0] <= 16
        groups = find_duplicates(store)
    found = {frozenset(Path(m.path).name for m in g.members) for g in groups}
    assert found == truth
    # the command line, its own process, finds the same groups
    lines = semhash("dedup", coll, "--json").stdout.splitlines()
    cli = {frozenset(Path(m["path"]).name for m in [g["keep"], *g["duplicates"]])
           for g in map(json.loads, lines)}  # fmt: skip
    assert cli == truth
    # a folder checked against the collection: the near copy is found by the same hash
    probe = tmp_path / "probe"
    probe.mkdir()
    near_copy(root / "p07.jpg", probe / "new.jpg", 99)
    against = semhash("dedup", coll, "--query", probe, "--json").stdout.splitlines()
    hit = json.loads(against[0])
    assert Path(hit["keep"]["path"]).name in {"p07.jpg", "p07-copy.jpg"}, hit
    assert hit["duplicates"][0]["similarity"] >= 0.94
    # the radius is checked against the hash's 64 bits, and the sentence says which codes
    wide = semhash("dedup", coll, "--radius", 65, ok=False).stderr
    want = (
        "--radius must be between 0 and 64 (dedup compares a features collection by 64-bit "
        "codes), not 65."
    )
    assert want in wide, wide
    assert semhash("dedup", coll, "--radius", 40, "--json").returncode == 0  # > the 16-bit codes
    # without the stored small copies there is nothing to look near copies up by, whatever
    # --verify says: one sentence that does not send the user to --verify none
    for chunk in (coll / "raw").glob("*.npz"):
        chunk.write_bytes(b"garbled")
    refused = semhash("dedup", coll, "--verify", "none", ok=False).stderr
    assert "from which features collections find near copies" in refused, refused
    assert "--verify none" not in refused
