"""`semhash bench`: option parsing, data loaders, the text hook, and one tiny run end to end."""

import json

import numpy as np
import pytest
from click.testing import CliRunner

from semantic_hashing.bench.data import BenchData, image_folder, sample_queries, subset_database
from semantic_hashing.bench.eval import AsymmetricSpace, RerankSpace
from semantic_hashing.bench.hashing import HASHERS
from semantic_hashing.bench.options import (
    DEFAULT_METHODS,
    BenchOptions,
    Method,
    parse_bits,
    parse_methods,
)
from semantic_hashing.bench.retrieval import bench
from semantic_hashing.cli import cli
from semantic_hashing.retrieval.codes import pack_bits
from semantic_hashing.retrieval.errors import SemhashError
from semantic_hashing.retrieval.metrics import rank_by_distance

from .conftest import make_image_folder

ROW_KEYS = {
    "method", "bits", "metric", "p@10", "p@100", "map@1000", "radius_precision",
    "radius_hit_fraction", "curve", "query_ms_batch", "query_ms_single",
    "encode_items_per_s", "train_seconds", "bytes_per_item",
}  # fmt: skip


def test_parse_methods_and_bits():
    methods = parse_methods("ae:vae, raw,ae-real:vae,itq,raw,ae-rerank:vae")
    assert [m.name for m in methods] == ["ae:vae", "raw", "ae-real:vae", "itq", "ae-rerank:vae"]
    families = {m.family for m in parse_methods("ae:all")}
    assert families == {"ae", "sparse-ae", "contractive-ae", "vae", "conv-dae"}  # no bow-ae
    assert parse_bits("64,16,16") == [16, 64]
    for bad in ("ae", "ae:nope", "knn", "lsh:x"):
        with pytest.raises(SemhashError):
            parse_methods(bad)
    for bad in ("12", "", "a,b", "2048"):
        with pytest.raises(SemhashError, match="bits"):
            parse_bits(bad)


def test_cli_defaults_match_the_library():
    option = {p.name: p for p in cli.get_command(None, "bench").params}["methods"]
    assert option.default == DEFAULT_METHODS


def test_query_sample_is_the_protocols():
    picks = sample_queries(100, 10, seed=3)
    assert np.array_equal(picks, np.random.default_rng(3).choice(100, 10, replace=False))


def test_folder_with_splits_and_folder_with_holdout(tmp_path):
    make_image_folder(tmp_path / "split" / "train", per_class=5)
    make_image_folder(tmp_path / "split" / "test", per_class=3, seed=1)
    data = image_folder(tmp_path / "split", queries=4, seed=0)
    assert data.db_inputs.shape == (15, 1, 28, 28) and len(data.q_labels) == 4
    assert data.names == ["bars", "columns", "diagonal"]
    flat = image_folder(make_image_folder(tmp_path / "flat", per_class=5), queries=4, seed=0)
    assert len(flat.db_labels) == 11 and len(flat.q_labels) == 4
    # the held-out queries are not in the database
    q_set = {x.tobytes() for x in flat.q_inputs}
    assert not q_set & {x.tobytes() for x in flat.db_inputs}
    with pytest.raises(SemhashError, match="leaves no database"):
        image_folder(tmp_path / "flat", queries=15, seed=0)


def test_database_subset_is_seeded_and_keeps_the_queries():
    rng = np.random.default_rng(0)
    data = BenchData("image", rng.integers(0, 255, (50, 1, 4, 4), dtype=np.uint8),
                     np.arange(50) % 5, np.zeros((3, 1, 4, 4), np.uint8), np.arange(3),
                     list("abcde"))  # fmt: skip
    sub = subset_database(data, 20, seed=0)
    rows = np.sort(np.random.default_rng(1).choice(50, 20, replace=False))
    assert np.array_equal(sub.db_labels, data.db_labels[rows])
    assert np.array_equal(sub.db_inputs, data.db_inputs[rows]) and sub.q_inputs is data.q_inputs
    for bad in (1, 51):
        with pytest.raises(SemhashError, match="db-size"):
            subset_database(data, bad, seed=0)


def test_text_data_hook(tmp_path):
    """Raw TF-IDF cosine and the FAISS hashers already work on count vectors."""
    rng = np.random.default_rng(0)
    topics = rng.dirichlet(np.full(60, 0.1), size=3)
    labels = rng.integers(0, 3, 240)
    counts = np.stack([rng.multinomial(40, topics[y]) for y in labels]).astype(np.float32)
    data = BenchData("text", counts[:200], labels[:200], counts[200:], labels[200:],
                     ["a", "b", "c"])  # fmt: skip
    opts = BenchOptions(dataset="toy-text", bits=[16], methods=parse_methods("raw,lsh,pca,itq"),
                        out=tmp_path / "r")  # fmt: skip
    report = bench(data, opts)
    assert [r["method"] for r in report.rows] == ["raw", "lsh", "pca", "itq"]
    assert report.rows[0]["metric"] == "ip" and report.rows[0]["p@10"] > 0.6
    with pytest.raises(SemhashError, match="bow-ae family"):
        bench(data, BenchOptions(dataset="t", methods=[Method("ae", "ae")], out=tmp_path))


def test_bench_end_to_end(tmp_path):
    folder = make_image_folder(tmp_path / "imgs", per_class=60)
    out = tmp_path / "report"
    args = ["bench", "--dataset", folder, "--bits", "8,16", "--queries", 30, "--epochs", 1,
            "--db-size", 120, "--out", out, "-q"]  # fmt: skip
    result = CliRunner().invoke(cli, [str(a) for a in args])
    assert result.exit_code == 0, result.output + repr(result.exception)
    assert "ae:conv-dae" in result.output and "wall time" in result.output
    report = json.loads((out / "report.json").read_text())
    protocol, rows = report["protocol"], report["rows"]
    assert protocol["database_items"] == 120 and protocol["queries"] == 30  # of 150
    assert protocol["db_size"] == 120 and protocol["device"].startswith("cpu")
    assert protocol["seed"] == 0 and {"torch", "faiss", "numpy"} <= set(protocol["versions"])
    names = [(r["method"], r["bits"]) for r in rows]
    autoencoder = ("ae:conv-dae", "ae-asym:conv-dae", "ae-rerank:conv-dae", "ae-real:conv-dae")
    expected = [(m, b) for m in autoencoder for b in (8, 16)]
    expected += [("raw", None)] + [(m, b) for m in ("lsh", "pca", "itq") for b in (8, 16)]
    assert names == expected
    for row in rows:
        assert ROW_KEYS <= set(row)
        assert 0 <= row["p@100"] <= 1 and row["query_ms_single"] > 0
        binary = row["metric"] == "hamming" and row["method"].split(":")[0] in ("ae", *HASHERS)
        assert (row["radius_precision"] is not None) == binary
        if binary or row["method"].startswith("ae-asym"):  # the database keeps the codes only
            assert row["bytes_per_item"] == row["bits"] // 8
        if row["method"].startswith("ae"):  # 120 items, batch 120: one step per epoch
            assert row["steps"] == 1 and row["device"].startswith("cpu")
        if "rerank" in row["method"]:  # the code and the real code (float32 per bit)
            assert row["bytes_per_item"] == row["bits"] // 8 + row["bits"] * 4
    for name in ("pr-8bits.png", "pr-16bits.png", "p100-vs-bits.png", "report.md"):
        assert (out / name).stat().st_size > 1000


@pytest.mark.parametrize(
    "args,words",
    [
        (["--dataset", "{tmp}/nowhere"], ["neither a known data set nor a folder"]),
        (["--dataset", "fashion-mnist", "--methods", "ae:nope"], ["ae:FAMILY"]),
        (["--dataset", "fashion-mnist", "--bits", "12"], ["multiple of 8"]),
    ],
)
def test_bench_user_errors(tmp_path, args, words):
    args = ["bench", *(a.format(tmp=tmp_path) for a in args), "--out", str(tmp_path / "r")]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code != 0 and "Traceback" not in result.output
    for word in words:
        assert word in result.output


def test_text_autoencoder_bench(tmp_path):
    """The bag-of-words model takes the default ae methods' place on text data."""
    rng = np.random.default_rng(1)
    topics = rng.dirichlet(np.full(60, 0.1), size=3)
    labels = rng.integers(0, 3, 240)
    counts = np.stack([rng.multinomial(40, topics[y]) for y in labels]).astype(np.float32)
    from scipy import sparse

    data = BenchData("text", sparse.csr_matrix(counts[:200]), labels[:200],
                     sparse.csr_matrix(counts[200:]), labels[200:], ["a", "b", "c"],
                     vocab=[f"w{i}" for i in range(60)])  # fmt: skip
    opts = BenchOptions(dataset="toy-text", bits=[16], epochs=30, out=tmp_path / "r",
                        methods=parse_methods("ae:conv-dae,ae-real:conv-dae,ae-tfidf:conv-dae,raw"),
                        shortlist=40)  # fmt: skip
    report = bench(data, opts)
    methods = [r["method"] for r in report.rows]
    assert methods == ["ae:bow-ae", "ae-real:bow-ae", "ae-tfidf:bow-ae", "raw"]
    assert report.rows[0]["p@10"] > 0.5  # three topics: chance is about 1/3
    assert report.rows[2]["p@10"] > 0.5 and report.rows[2]["shortlist"] == 40
    with pytest.raises(SemhashError, match="text data only"):
        images = BenchData("image", np.zeros((20, 1, 8, 8), np.uint8), np.arange(20) % 2,
                           np.zeros((2, 1, 8, 8), np.uint8), np.arange(2), ["a", "b"])  # fmt: skip
        bench(images, BenchOptions(dataset="t", bits=[8], epochs=1, out=tmp_path / "i",
                                   methods=parse_methods("ae-tfidf:conv-dae")))  # fmt: skip


def test_rerank_space_by_hand():
    """Shortlist of 2 by Hamming (ties in database order), re-ranked by the real code."""
    codes = pack_bits(np.array([[0, 0, 0, 0, 0, 0, 0, 1],   # d = 1
                                [0, 0, 0, 0, 0, 0, 1, 1],   # d = 2
                                [0, 0, 0, 0, 0, 0, 0, 1],   # d = 1
                                [0, 0, 0, 0, 0, 0, 0, 0]]))  # d = 0  # fmt: skip
    real = np.array([[5.0], [0.0], [0.1], [3.0]], dtype=np.float32)
    space = RerankSpace("hamming", codes, codes[3:4], real_db=real, real_q=np.zeros((1, 1)),
                        shortlist=2)  # fmt: skip
    # Hamming order 3, 0, 2, 1; the shortlist {3, 0} re-ranked by |real|: 3 (9), 0 (25);
    # then the rest in Hamming order: 2 (d 1), 1 (d 2)
    assert rank_by_distance(space.distances(slice(0, 1)), 4)[0].tolist() == [3, 0, 2, 1]
    assert space.searcher()(slice(0, 1), 2)[0].tolist() == [3, 0]
    assert not space.hamming_ranked and space.bytes_per_item() == 1 + 4


def test_asymmetric_space_by_hand():
    """The same shortlist re-ranked by decoded codes; only the codes count as stored."""
    codes = pack_bits(np.eye(8, dtype=bool)[[7, 6, 7, 0]])  # Hamming to row 3: 2, 2, 2, 0
    decoded = np.array([[4.0], [1.0], [1.6], [9.0]], dtype=np.float32)
    space = AsymmetricSpace("hamming", codes, codes[:1], real_db=decoded,
                            real_q=np.array([[1.5]]), shortlist=3)  # fmt: skip
    # Hamming order from row 0: 0, 2 (d 0), then 1, 3 (d 2); shortlist {0, 2, 1} re-ranked by
    # (1.5 - decoded)^2: 2 (0.01), 1 (0.25), 0 (6.25); then 3
    assert rank_by_distance(space.distances(slice(0, 1)), 4)[0].tolist() == [2, 1, 0, 3]
    assert space.searcher()(slice(0, 1), 2)[0].tolist() == [2, 1]
    assert space.bytes_per_item() == 1


def test_text_model_on_images_is_a_user_error(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 255, (40, 1, 28, 28), dtype=np.uint8)
    data = BenchData("image", images[:30], np.arange(30) % 3, images[30:], np.arange(10) % 3,
                     ["a", "b", "c"])  # fmt: skip
    opts = BenchOptions(dataset="toy", bits=[8], methods=parse_methods("ae:bow-ae"),
                        out=tmp_path / "r")  # fmt: skip
    with pytest.raises(SemhashError, match="bow-ae is the text model"):
        bench(data, opts)


def test_bench_scale_flag_runs_the_scale_benchmark(tmp_path, monkeypatch):
    from semantic_hashing.bench import scale

    seen = {}

    def fake_run(opts):
        seen["opts"] = opts
        return {"wall_s": 1.0, "rows": [], "skipped": [], "targets": {}}

    monkeypatch.setattr(scale, "run_scale", fake_run)
    result = CliRunner().invoke(cli, ["bench", "--scale", "--out", str(tmp_path / "s")])
    assert result.exit_code == 0, result.output
    assert seen["opts"].out == tmp_path / "s" and seen["opts"].sizes == (60_000, 10**6, 10**7)
    missing = CliRunner().invoke(cli, ["bench"])
    assert missing.exit_code == 1 and "needs --dataset" in missing.output


def test_subject_protocol_strips_reply_prefixes_and_rejects_unknown_protocols():
    from semantic_hashing.bench.data import SUBJECT_PREFIX, newsgroups

    assert SUBJECT_PREFIX.sub("", "Re: RE:re: Space shuttle launch") == "Space shuttle launch"
    assert SUBJECT_PREFIX.sub("", "Reentry: orbit") == "Reentry: orbit"
    with pytest.raises(SemhashError, match="query-text"):
        newsgroups(10, 0, query_text="body")
