"""Both Milvus paths as a user runs them: every command a separate process of the installed
`semhash`, against a real embedded Milvus server and against Milvus Lite, with the results
compared with the FAISS collection of the same model (same ids, same distances)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

pytest.importorskip("pymilvus", reason="the milvus extra is not installed")

from semantic_hashing.cli import cli  # noqa: E402
from semantic_hashing.indexer.pipeline import IndexOptions, index_folder  # noqa: E402

from .conftest import make_image_folder  # noqa: E402

SEMHASH = Path(sys.executable).with_name("semhash")
N = 45


def semhash(*args, ok: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run([str(SEMHASH), *map(str, args)], capture_output=True, text=True,
                          timeout=300)  # fmt: skip
    assert "Traceback" not in done.stderr, done.stderr
    if ok:
        assert done.returncode == 0, done.stderr
    else:
        assert done.returncode == 1, done.stderr
        assert done.stderr.strip().splitlines()[-1].startswith("Error: "), done.stderr
    return done


def in_process(*args) -> str:
    """The same command in this process (the FAISS reference: no start-up to pay)."""
    result = CliRunner().invoke(cli, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result.stdout


def parse(lines: str) -> dict:
    """`search --json` output as {query: [(id, distance), ...]}."""
    return {json.loads(line)["query"]: [(h["id"], h["distance"]) for h in
            json.loads(line)["results"]] for line in lines.strip().splitlines()}  # fmt: skip


def ranking(coll, *args) -> dict:
    return parse(semhash("search", coll, *args, "--json", "-q").stdout)


def reference_ranking(coll, *args) -> dict:
    return parse(in_process("search", coll, *args, "--json", "-q"))


@pytest.fixture(scope="module")
def reference(tmp_path_factory, collection):
    """A seeded folder and its FAISS collection made with the session collection's model."""
    root = tmp_path_factory.mktemp("mv")
    folder = make_image_folder(root / "imgs", per_class=N // 3, seed=21)
    faiss_coll = root / "faiss.semhash"
    model = root / "model.pt"
    shutil.copy(collection / "model.pt", model)
    index_folder(folder, faiss_coll, IndexOptions(model_path=model, chunk_size=20))
    return folder, faiss_coll, model


def lifecycle(reference, coll: Path, uri: str) -> None:
    folder, faiss_coll, model = reference
    semhash("index", folder, "-c", coll, "--model", model, "--backend", "milvus", "--uri", uri,
            "--chunk-size", 20, "-q")  # fmt: skip
    info = json.loads((coll / "collection.json").read_text())
    assert info["backend"]["name"] == "milvus" and info["count"] == N
    # complete rankings (k = N): the same ids in the same (distance, id) order
    every = ("--query", folder / "bars", "-k", N)
    assert ranking(coll, *every) == reference_ranking(faiss_coll, *every)
    near = ("--id", 7, "--radius", 4)
    assert ranking(coll, *near) == reference_ranking(faiss_coll, *near)
    finer = ("--id", 7, "-k", 10, "--asymmetric")  # codes read back from Milvus
    assert ranking(coll, *finer) == reference_ranking(faiss_coll, *finer)
    # remove, check, repair, index again: each a new process that loads the collection
    assert "removed 1 items" in semhash("remove", coll, "--id", 3, "-q").stdout
    gone = ranking(coll, "--id", 7, "-k", N)
    assert 3 not in {i for hits in gone.values() for i, _ in hits} and len(gone) == 1
    assert semhash("check", coll).stdout.strip().endswith("ok")
    assert semhash("check", coll, "--repair").stdout.strip().endswith("ok")
    again = semhash("index", folder, "-c", coll, "-q").stdout
    assert f"added 0, changed 1, unchanged {N - 1}" in again  # back under its old id
    assert ranking(coll, *every) == reference_ranking(faiss_coll, *every)
    scores = json.loads(semhash("evaluate", coll, "--queries", folder, "--json", "-q").stdout)
    assert scores == json.loads(in_process("evaluate", faiss_coll, "--queries", folder, "--json"))


def test_milvus_server_lifecycle_across_processes(reference, milvus_server, tmp_path):
    lifecycle(reference, tmp_path / "server.semhash", milvus_server.uri)


def test_milvus_lite_lifecycle_across_processes(reference, tmp_path):
    lifecycle(reference, tmp_path / "lite.semhash", str(tmp_path / "codes.db"))


def test_wrong_uri_and_server_down(reference, milvus_server, tmp_path):
    folder, _, model = reference
    coll = tmp_path / "c.semhash"
    opts = IndexOptions(model_path=model, backend="milvus", uri=milvus_server.uri)
    index_folder(folder, coll, opts)
    empty = semhash("search", coll, "--id", 1, "--uri", tmp_path / "empty.db", ok=False)
    assert "does not exist" in empty.stderr and milvus_server.uri in empty.stderr
    lite = tmp_path / "other" / "m.db"  # another process's Lite data: not held open here
    semhash("index", folder, "-c", tmp_path / "o.semhash", "--model", model, "--backend",
            "milvus", "--uri", lite, "-q")  # fmt: skip
    other = semhash("search", coll, "--id", 1, "--uri", lite, ok=False)
    assert "holds no collection" in other.stderr
    down = semhash("search", coll, "--id", 1, "--uri", "http://127.0.0.1:9", ok=False)
    assert "cannot reach the Milvus server" in down.stderr
    assert not (tmp_path / "empty.db").exists()  # looking created nothing


def test_bench_milvus_measures_the_server_against_faiss(milvus_server):
    """`semhash bench-milvus` on seeded codes: the server gives FAISS's exact distances."""
    from semantic_hashing.bench.milvus import as_table, measure

    from .conftest import seeded_codes

    row = measure(seeded_codes(3000, 64, 3), seeded_codes(12, 64, 4), milvus_server.uri)
    assert row["same_distances"] and row["n"] == 3000
    assert row["milvus"]["recall"] == row["faiss_flat"]["recall"] == 1.0
    assert row["milvus"]["queries"] == 12 and row["milvus"]["ms_p50"] > 0
    assert "Milvus Strong" in as_table({"rows": [row]})


def test_bench_milvus_on_a_collection(collection, milvus_server, tmp_path):
    """`semhash bench-milvus --collection C` (the million bench's Milvus figures): every live
    code of C inserted, seeded items of C as queries, FAISS's distances returned."""
    from semantic_hashing.bench.cli import bench_milvus
    from semantic_hashing.indexer.store import Store

    out = CliRunner().invoke(
        bench_milvus,
        [
            "--collection",
            str(collection),
            "--queries",
            "7",
            "--uri",
            milvus_server.uri,
            "--out",
            str(tmp_path),
        ],
    )
    assert out.exit_code == 0, out.output
    report = json.loads((tmp_path / "milvus-report.json").read_text())
    (row,) = report["rows"]
    with Store.open(collection) as store:
        assert row["n"] == len(store.index)
    assert row["same_distances"] and row["milvus"]["queries"] == 7
    assert row["milvus"]["insert_per_s"] > 0 and report["collection"] == str(collection)
