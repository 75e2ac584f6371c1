"""One code per file, however it arrives: for every model family of the registry and every
input kind it serves, the same files are encoded as an index batch, one by one as queries
(`search --query FILE`), as a folder query, by id, by HTTP (the page's API: an upload, or
the document's text) and through the Python API; each way must reach the file's own stored
code at Hamming distance 0, that is the same code bit for bit. A new family or kind joins
the cases by itself (a kind without a folder maker below fails loudly)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

import semantic_hashing as sh
from semantic_hashing.indexer.store import Store
from semantic_hashing.retrieval.backbones import BACKBONES
from semantic_hashing.retrieval.families import REGISTRY
from semantic_hashing.retrieval.kinds import KINDS
from semantic_hashing.server import create_app

from .conftest import make_corpus, make_image_folder, run


def _images(root: Path) -> Path:
    return make_image_folder(root, per_class=8, seed=4, rgb=True)


def _texts(root: Path) -> Path:
    return make_corpus(root, per_topic=10, seed=4)


def _photos_for_the_backbone(root: Path) -> Path:
    if not BACKBONES["efficientnet-lite0"].available():
        pytest.skip("the 'features' extra (efficientnet-lite0) is not installed")
    return make_image_folder(root, per_class=4, seed=4, rgb=True)


# kind -> (folder maker, index options, whether HTTP takes the file's bytes or its text)
MAKERS = {
    "image": (_images, ["--features", "pixels"], "upload"),
    "text": (_texts, [], "text"),
    "features": (_photos_for_the_backbone,
                 ["--features", "efficientnet-lite0", "--image-size", "64"], "upload"),
}  # fmt: skip
CASES = [(name, kind) for name, family in REGISTRY.items() for kind in KINDS
         if family.serves(kind)]  # fmt: skip


def test_every_kind_has_a_folder_maker():
    assert set(MAKERS) == set(KINDS)


def _distance_to(hits, item: int) -> int | None:
    """The distance at which `hits` (dicts or result objects) hold `item`."""
    for h in hits:
        hid, d = (h["id"], h["distance"]) if isinstance(h, dict) else (h.id, h.distance)
        if hid == item:
            return d
    return None


def _cli(coll, *args) -> list[list[dict]]:
    out = run("search", coll, *args, "-k", 1000, "--json", "-q").output
    return [json.loads(line)["results"] for line in out.splitlines() if line.startswith("{")]


def _body(path: Path) -> str:
    text = path.read_text()
    return text.split("\n\n", 1)[1] if "\n\n" in text else text  # the header stripped


@pytest.mark.parametrize("family, kind", CASES, ids=[f"{f}-{k}" for f, k in CASES])
def test_one_file_gets_one_code_however_it_arrives(tmp_path, family, kind):
    make, options, http = MAKERS[kind]
    folder = make(tmp_path / "files")
    coll = tmp_path / "c.semhash"
    run("index", folder, "-c", coll, "--model-type", family, "--bits", 16, "--epochs", 1,
        *options, "-q")  # fmt: skip
    with Store.open(coll) as store:
        rows = store.meta.get(sorted(store.meta.labels()))
    items = {Path(r.path): i for i, r in rows.items()}
    probes = sorted(items)[:: max(1, len(items) // 4)][:4]
    query_dir = tmp_path / "q"
    query_dir.mkdir()
    for i, p in enumerate(probes):  # the files among others, read as one batch
        shutil.copy(p, query_dir / f"{i}{p.suffix}")
    batch = _cli(coll, "--query", query_dir)
    ways: dict[str, list] = {"folder": [batch[i] for i in range(len(probes))]}
    ways["file"] = [_cli(coll, "--query", p)[0] for p in probes]
    ways["id"] = [_cli(coll, "--id", items[p])[0] for p in probes]
    with TestClient(create_app([coll])) as client:
        url = f"/api/collections/{coll.name.removesuffix('.semhash')}/search"
        if http == "upload":
            sent = [client.post(url, data={"k": "1000"}, files={"image": p.read_bytes()})
                    for p in probes]  # fmt: skip
        else:
            sent = [client.post(url, json={"text": _body(p), "k": 1000}) for p in probes]
        assert all(r.status_code == 200 for r in sent), [r.text for r in sent]
        ways["http"] = [r.json()["results"] for r in sent]
    with sh.open(coll) as api:
        ways["api"] = [api.search(p, k=1000).results for p in probes]
        if http == "upload":
            ways["api bytes"] = [api.search(p.read_bytes(), k=1000).results for p in probes]
    missed = {way: [(p.name, _distance_to(hits, items[p]))
                    for p, hits in zip(probes, answers, strict=True)
                    if _distance_to(hits, items[p]) != 0]
              for way, answers in ways.items()}  # fmt: skip
    assert not any(missed.values()), missed
    assert np.unique([len(b) for b in batch]).size == 1  # every query saw the whole collection
