"""The command line through click's CliRunner: outputs, formats and user errors."""

import json
import shutil

import click
import numpy as np
import pytest

from semantic_hashing.cli import cli

from .conftest import assert_user_error, make_image_folder, run


def test_every_command_has_help():
    for name in cli.list_commands(None):  # the benchmarks' commands come from a plugin
        command = cli.get_command(None, name)
        assert command.help and len(command.help) > 20, name
        out = run(name, "--help").output
        assert "Usage:" in out
        for param in command.params:
            if isinstance(param, click.Option):
                assert param.help, f"{name} {param.opts}"


def test_search_by_file_table(collection, image_folder):
    query = sorted((image_folder / "bars").iterdir())[0]
    out = run("search", collection, "--query", query, "-k", 5, "-q").output
    assert f"query: {query}" in out
    rows = [line for line in out.splitlines() if line.strip()[:1].isdigit()]
    assert len(rows) == 5
    # the query itself is in the collection: it comes first at distance 0
    assert rows[0].split()[2] == "0" and str(query) in rows[0]


def test_batch_json_one_line_per_query(collection, image_folder):
    out = run(
        "search", collection, "--query", image_folder / "columns", "-k", 7, "--json", "-q"
    ).output
    lines = out.strip().splitlines()
    assert len(lines) == 40
    for line in lines:
        obj = json.loads(line)
        assert set(obj) == {"query", "results"}
        assert len(obj["results"]) == 7
        for hit in obj["results"]:
            assert set(hit) >= {"id", "path", "distance", "label"}
        d = [h["distance"] for h in obj["results"]]
        assert d == sorted(d)
    # the learned codes put most neighbours of a "columns" image in its own class
    labels = [h["label"] for line in lines for h in json.loads(line)["results"]]
    assert labels.count("columns") / len(labels) > 0.6


def test_search_by_id_radius_and_baseline(collection):
    by_id = json.loads(run("search", collection, "--id", 3, "--json", "-q").output)
    assert by_id["results"][0]["id"] == 3 and by_id["results"][0]["distance"] == 0
    radius = json.loads(run("search", collection, "--id", 3, "--radius", 2, "--json", "-q").output)
    assert all(h["distance"] <= 2 for h in radius["results"]) and radius["results"]
    both = json.loads(
        run("search", collection, "--id", 3, "--baseline", "raw", "--json", "-q").output
    )
    assert both["results"] == by_id["results"] and both["method"] == "hamming"
    raw = both["baseline"]  # the raw baseline's answer beside the codes'
    assert raw["method"] == "raw-l2" and len(raw["results"]) == 10
    assert raw["results"][0]["id"] == 3 and raw["results"][0]["distance"] == 0


def test_contact_sheet(collection, image_folder, tmp_path):
    from PIL import Image

    sheet = tmp_path / "sheet.png"
    run("search", collection, "--id", 0, "--id", 50, "-k", 4, "--sheet", sheet, "-q")
    with Image.open(sheet) as img:
        assert img.width > 4 * 96 and img.height > 2 * 96


def test_info(collection):
    out = run("info", collection, "--json").output
    data = json.loads(out)
    assert data["bits"] == 16 and data["items"] == 120 and data["labels"] == 3
    assert data["kind"] == "image" and data["model"]["threshold"] == "thermometer"
    assert "quantiser          thermometer" in run("info", collection).output


def test_train_then_index_with_model_then_refuse_other_model(tmp_path, image_folder):
    model = tmp_path / "m.pt"
    run("train", image_folder, "--out", model, "--bits", 16, "--epochs", 1, "-q")
    coll = tmp_path / "c.semhash"
    run("index", image_folder, "-c", coll, "--model", model, "-q")
    before = json.loads(run("info", coll, "--json").output)
    other = tmp_path / "other.pt"
    run("train", image_folder, "--out", other, "--bits", 16, "--epochs", 1, "--seed", 1, "-q")
    assert_user_error(
        run("index", image_folder, "-c", coll, "--model", other, ok=False), "another model"
    )
    run("train", image_folder, "--out", other, "--bits", 32, "--epochs", 1, "-q")
    assert_user_error(run("index", image_folder, "-c", coll, "--model", other, ok=False), "32-bit")
    after = json.loads(run("info", coll, "--json").output)
    assert after["items"] == before["items"] == 120


def test_reindex_adds_only_new_files_and_skips_bad_ones(tmp_path):
    folder = make_image_folder(tmp_path / "imgs", per_class=10)
    coll = tmp_path / "c.semhash"
    run("index", folder, "-c", coll, "--bits", 16, "--epochs", 1, "-q")
    extra = make_image_folder(tmp_path / "more", per_class=2, seed=5)
    shutil.copytree(extra / "bars", folder / "new")
    (folder / "new" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    result = run("index", folder, "-c", coll, "-q")
    assert "added 2, changed 0, unchanged 30, removed 0, skipped 1" in result.output
    assert "broken.png" in result.output
    assert json.loads(run("info", coll, "--json").output)["items"] == 32
    assert "broken.png" in (coll / "index.log").read_text()


@pytest.mark.parametrize(
    "args,words",
    [
        (("search", "{tmp}/nope.semhash", "--id", 1), ["not a semhash collection"]),
        (("index", "{tmp}/missing", "-c", "{tmp}/x.semhash"), ["does not exist"]),
        (("index", "{tmp}/empty", "-c", "{tmp}/x.semhash"), ["no image or text files"]),
        (("search", "{coll}", "--query", "{tmp}/nothing.jpg"), ["does not exist"]),
        (("search", "{coll}", "--id", 99999), ["not in"]),
        (("search", "{coll}"), ["exactly one of"]),
        (("search", "{coll}", "--query", "{tmp}/fake.jpg"), ["cannot be read"]),
        (("index", "{tmp}/empty", "-c", "{tmp}/x.semhash", "--kind", "image"), ["no image files"]),
        (("train", "{imgs}", "--out", "{tmp}/m.pt", "--bits", 12), ["multiple of 8"]),
        (("info", "{tmp}"), ["not a semhash collection"]),
    ],
)
def test_user_errors_are_one_sentence(tmp_path, collection, image_folder, args, words):
    (tmp_path / "empty").mkdir()
    (tmp_path / "fake.jpg").write_text("hello, I am text")
    fill = {"tmp": tmp_path, "coll": collection, "imgs": image_folder}
    result = run(*[a.format(**fill) if isinstance(a, str) else a for a in args], ok=False)
    assert_user_error(result, *words)


def test_query_folder_with_a_bad_file_reports_and_goes_on(collection, image_folder, tmp_path):
    q = tmp_path / "q"
    q.mkdir()
    shutil.copy(sorted((image_folder / "bars").iterdir())[0], q / "good.png")
    (q / "bad.png").write_bytes(b"")
    result = run("search", collection, "--query", q, "--json", "-q")
    lines = [line for line in result.output.splitlines() if line.startswith("{")]
    assert len(lines) == 1
    assert "bad.png: empty file" in result.output


def test_identical_seeds_give_identical_models(tmp_path, image_folder):
    a, b = tmp_path / "a.pt", tmp_path / "b.pt"
    run("train", image_folder, "--out", a, "--bits", 16, "--epochs", 1, "-q")
    run("train", image_folder, "--out", b, "--bits", 16, "--epochs", 1, "-q")
    import torch

    sa = torch.load(a, weights_only=True)["state_dict"]
    sb = torch.load(b, weights_only=True)["state_dict"]
    assert all(np.array_equal(sa[k].numpy(), sb[k].numpy()) for k in sa)
