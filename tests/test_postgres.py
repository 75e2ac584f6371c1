"""Metadata in PostgreSQL: the whole CLI lifecycle against a real server (conftest's
`postgres` fixture) gives the same ids and search results as on SQLite."""

import json
import shutil

import numpy as np
from click.testing import CliRunner
from PIL import Image

from semantic_hashing.cli import cli

from .conftest import make_image_folder, pattern
from .pg_server import PASSWORD


def invoke(*args, env=None):
    return CliRunner().invoke(cli, [str(a) for a in args], env=env)


def lifecycle(folder, coll, model, db=(), env=None) -> list:
    """index, info, search, change + add + re-index, remove, check, prune: what each step
    printed, with the folder and collection paths blanked out."""
    seen = []

    def step(*args, first_line=False):
        res = invoke(*args, "-q", env=env)
        assert res.exit_code == 0, res.output
        text = res.stdout.replace(str(folder), "F").replace(str(coll), "C")
        seen.append(text.splitlines()[0] if first_line else text)

    def info():
        res = invoke("info", coll, "--json", env=env)
        data = json.loads(res.stdout)
        seen.append({k: data[k] for k in ("items", "metadata_rows", "labels", "count")})

    step("index", folder, "-c", coll, "--model", model, *db, "--chunk-size", 25, first_line=True)
    info()
    step("search", coll, "--id", 0, "-k", 10, "--json")
    step("search", coll, "--query", folder / "bars", "-k", 5, "--json")
    step("search", coll, "--id", 7, "--radius", 3, "--json")
    step("search", coll, "--id", 7, "-k", 5, "--baseline", "raw", "--json")
    target = sorted((folder / "bars").iterdir())[3]
    Image.fromarray(pattern(1, np.random.default_rng(9))).save(target)  # now a column image
    Image.fromarray(pattern(2, np.random.default_rng(5))).save(folder / "diagonal" / "new.png")
    step("index", folder, "-c", coll, *db, first_line=True)  # 1 added, 1 changed
    step("check", coll, "--json")
    (folder / "diagonal" / "new.png").unlink()
    step("index", folder, "-c", coll, "--prune", first_line=True)  # 1 removed
    step("remove", coll, "--id", 3)
    step("remove", coll, "--path", folder / "columns")
    step("search", coll, "--query", folder / "bars", "-k", 200, "--json")
    info()
    step("check", coll, "--json")
    return seen


def test_cli_lifecycle_on_postgres_equals_sqlite(pg_url, tmp_path, image_folder, collection):
    model = collection / "model.pt"
    runs = {}
    for name, db, env in (("sqlite", (), None),
                          ("postgres", ("--db", pg_url), {"SEMHASH_DB_URL": pg_url})):  # fmt: skip
        folder = shutil.copytree(image_folder, tmp_path / name / "imgs")
        runs[name] = lifecycle(folder, tmp_path / name / "c.semhash", model, db, env)
    assert runs["postgres"] == runs["sqlite"]
    seen = runs["postgres"]
    assert seen[0] == "C: added 120, changed 0, unchanged 0, removed 0, skipped 0; " + (
        "120 items in the collection"
    )
    assert seen[6].startswith("C: added 1, changed 1, unchanged 119, removed 0")
    assert seen[8].startswith("C: added 0, changed 0, unchanged 120, removed 1")
    assert seen[9:11] == ["removed 1 items from C\n", "removed 40 items from C\n"]
    assert seen[-2] == {"items": 79, "metadata_rows": 79, "labels": 2, "count": 79}
    assert all(n == 0 for n in json.loads(seen[-1])["problems"].values())
    hits = [h for line in seen[11].splitlines() for h in json.loads(line)["results"]]
    assert {h["label"] for h in hits} == {"bars", "diagonal"} and 3 not in {h["id"] for h in hits}


def test_sidecar_keeps_no_password(postgres, pg_url, tmp_path):
    folder = make_image_folder(tmp_path / "imgs", per_class=3, seed=4)
    coll = tmp_path / "c.semhash"
    res = invoke("index", folder, "-c", coll, "--db", pg_url, "--bits", 8, "--epochs", 1, "-q")
    assert res.exit_code == 0, res.output
    sidecar = (coll / "collection.json").read_text()
    assert "s3cret" not in sidecar and PASSWORD not in sidecar
    assert json.loads(sidecar)["db_url"] == pg_url.replace(":s3cret%20pw", "")

    refused = invoke("info", coll)  # no password anywhere
    assert refused.exit_code == 1 and "SEMHASH_DB_URL" in refused.output
    assert "Traceback" not in refused.output and "s3cret" not in refused.output
    for env in ({"SEMHASH_DB_URL": pg_url}, {"PGPASSWORD": PASSWORD}):
        res = invoke("search", coll, "--id", 0, "-k", 3, "--json", env=env)
        assert res.exit_code == 0 and len(json.loads(res.stdout)["results"]) == 3

    other = postgres.url(postgres.create_database())
    res = invoke("index", folder, "-c", coll, "--db", other)
    assert res.exit_code == 1 and "keeps its metadata in" in res.output
    res = invoke("index", folder, "-c", tmp_path / "second.semhash", "--db", pg_url)
    assert res.exit_code == 1 and "already holds items" in res.output
    assert not (tmp_path / "second.semhash" / "model.pt").exists()  # refused before training


def test_plain_postgresql_url_uses_psycopg(pg_url, tmp_path, collection):
    folder = make_image_folder(tmp_path / "imgs", per_class=2, seed=6)
    plain = pg_url.replace("postgresql+psycopg://", "postgresql://")
    res = invoke("index", folder, "-c", tmp_path / "c.semhash", "--db", plain,
                 "--model", collection / "model.pt", "-q")  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "added 6," in res.output
