"""semhash dedup: groups against brute force, acting safely, bad input, text, --against."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from semantic_hashing.cli import cli
from semantic_hashing.indexer.maintenance import remove_items
from semantic_hashing.indexer.pipeline import index_folder
from semantic_hashing.indexer.store import Store
from semantic_hashing.query.candidates import self_pairs
from semantic_hashing.query.dedup import collection_items, find_duplicates
from semantic_hashing.retrieval.codes import hamming
from semantic_hashing.retrieval.similarity import image_similarity

from .conftest import fast_options, make_dup_folder, smooth_image


@pytest.fixture(scope="session")
def dup_collection(tmp_path_factory) -> tuple[Path, Path, dict]:
    root = tmp_path_factory.mktemp("dups") / "photos"
    truth = make_dup_folder(root)
    coll = tmp_path_factory.mktemp("dupcoll") / "d.semhash"
    # epochs=0: the library's default step budget, as a user's small folder gets it (77
    # items in batches of 64: the floor of 1,400 steps stops at max_epochs, 100 passes of
    # one step). After only 4 steps the brightened and rescaled copies land at about the
    # default radius (6 at 32 bits), in or out by chance: over training seeds 0-7 the
    # farthest copy was 7,5,7,7,7,6,5,6 bits after 4 steps, 5,5,4,6,6,3,6,5 after these 100.
    index_folder(root, coll, fast_options(epochs=0, bits=32))
    return root, coll, truth


@pytest.fixture
def private(tmp_path, dup_collection):
    """A copy of folder and collection that a test may change (paths rewritten)."""
    root, coll, truth = dup_collection
    new_root = tmp_path / "photos"
    shutil.copytree(root, new_root)
    new_coll = tmp_path / "d.semhash"
    opts = fast_options()
    opts.model_path = coll / "model.pt"
    index_folder(new_root, new_coll, opts)
    return new_root, new_coll, truth


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def rel(path: str, root: Path) -> str:
    return str(Path(path).relative_to(root.resolve()))


def brute_force_groups(store, radius: int, threshold: float) -> set[frozenset[int]]:
    """Every pair compared (codes within radius and inputs alike); then stars in id order:
    an item not yet grouped keeps every ungrouped item alike to it, with all copies of the
    same bytes (sha256) of each."""
    items = collection_items(store, need_inputs=True)
    n = len(items.ids)
    d = hamming(items.codes, items.codes)
    a, b = np.triu_indices(n, 1)
    sim = store.input_kind.similarity(items.inputs[a], items.inputs[b])
    alike = np.zeros((n, n), bool)
    ok = (d[a, b] <= radius) & (sim >= threshold)
    alike[a[ok], b[ok]] = alike[b[ok], a[ok]] = True
    same = {p: {q for q in range(n) if items.sha256[q] == items.sha256[p]} for p in range(n)}
    grouped: set[int] = set()
    groups = set()
    for u in range(n):
        if u in grouped:
            continue
        members = set(same[u])
        for v in np.flatnonzero(alike[u]):
            members |= same[int(v)] - grouped
        grouped |= members
        if len(members) > 1:
            groups.add(frozenset(int(items.ids[m]) for m in members))
    return groups


@pytest.mark.parametrize("strategy", [None, "flat"])
@pytest.mark.parametrize("radius,threshold", [(4, 0.9), (10, 0.8), (32, 0.5)])
def test_groups_equal_brute_force(dup_collection, strategy, radius, threshold):
    _, coll, _ = dup_collection
    with Store.open(coll) as store:
        want = brute_force_groups(store, radius, threshold)
        got = find_duplicates(store, radius=radius, threshold=threshold, strategy=strategy,
                              max_candidates=1000)  # fmt: skip
    assert {frozenset(m.id for m in g.members) for g in got} == want
    assert want  # the planted copies make groups


def test_candidate_pairs_equal_brute_force():
    rng = np.random.default_rng(3)
    base = rng.integers(0, 256, (300, 8), dtype=np.uint8)
    flips = np.packbits(rng.random((300, 64)) < 0.04, axis=1)
    codes = np.concatenate([base, base ^ flips, base[:20]])  # near and identical codes
    ids = np.arange(len(codes), dtype=np.int64) * 3 + 1
    d = hamming(codes, codes)
    for radius in (0, 2, 5, 9, 64):
        a, b = np.triu_indices(len(codes), 1)
        near = d[a, b] <= radius
        want = set(zip(ids[a[near]].tolist(), ids[b[near]].tolist(), strict=True))
        for strategy in (None, "flat", "hash"):
            got = self_pairs(ids, codes, 64, radius, 10_000, strategy)
            assert set(zip(got.a.tolist(), got.b.tolist(), strict=True)) == want
            assert np.array_equal(got.distance, d[(got.a - 1) // 3, (got.b - 1) // 3])


def test_ivf_candidates_find_near_codes():
    """The approximate lookup (the default above FLAT_UP_TO codes): every pair it gives is
    a true pair at its true distance, and it finds nearly all pairs of near codes."""
    rng = np.random.default_rng(5)
    base = rng.integers(0, 256, (1500, 8), dtype=np.uint8)
    flips = np.packbits(rng.random((1500, 64)) < 0.03, axis=1)
    codes = np.concatenate([base, base ^ flips])
    ids = np.arange(len(codes), dtype=np.int64)
    d = hamming(codes, codes)
    a, b = np.triu_indices(len(codes), 1)
    near = d[a, b] <= 6
    want = set(zip(a[near].tolist(), b[near].tolist(), strict=True))
    got = self_pairs(ids, codes, 64, 6, 20, "ivf")
    pairs = set(zip(got.a.tolist(), got.b.tolist(), strict=True))
    assert pairs <= want and np.array_equal(got.distance, d[got.a, got.b])
    assert len(pairs) >= 0.9 * len(want) and len(want) >= 1400


def test_defaults_find_the_planted_copies(dup_collection):
    root, coll, truth = dup_collection
    with Store.open(coll) as store:
        groups = find_duplicates(store)
    found = {rel(g.keep.path, root): sorted(rel(m.path, root) for m in g.duplicates)
             for g in groups}  # fmt: skip
    assert found == {k: sorted(v) for k, v in truth.items()}
    exact = [m for g in groups for m in g.duplicates if m.exact]
    assert sorted(rel(m.path, root) for m in exact) == ["b/img010-same.png", "b/img011-same.png"]
    assert all(m.similarity == 1.0 and m.distance == 0 for m in exact)


def test_similarity_ignores_tone_and_separates_distinct_images():
    rng = np.random.default_rng(1)
    a, b = smooth_image(rng), smooth_image(rng)
    arr = lambda img: np.asarray(img, dtype=np.uint8)[None, None]  # noqa: E731
    brighter = np.clip(arr(a).astype(int) * 1.2 + 10, 0, 255).astype(np.uint8)
    assert image_similarity(arr(a), brighter)[0] > 0.99
    assert image_similarity(arr(a), arr(b))[0] < 0.6
    flat = np.full((1, 1, 28, 28), 7, np.uint8)
    assert image_similarity(flat, flat)[0] == 1.0


def test_json_csv_and_sheet(dup_collection, tmp_path):
    import csv
    import json

    _, coll, truth = dup_collection
    out = run("dedup", coll, "--json", "--csv", tmp_path / "g.csv", "--sheet", tmp_path / "g.png")
    assert out.exit_code == 0, out.output
    lines = [json.loads(x) for x in out.stdout.splitlines()]
    assert len(lines) == len(truth)
    assert set(lines[0]) == {"keep", "duplicates"}
    assert {"id", "path", "distance", "similarity"} <= set(lines[0]["duplicates"][0])
    rows = list(csv.DictReader(open(tmp_path / "g.csv")))
    assert sum(r["role"] == "keep" for r in rows) == len(truth)
    with Image.open(tmp_path / "g.png") as img:
        assert img.width > 200 and img.height > 100 * len(truth)


def _snapshot(root: Path, coll: Path):
    files = {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}
    with Store.open(coll) as store:
        return files, sorted(store.index.ids().tolist())


def test_dry_run_changes_nothing(private, tmp_path):
    root, coll, truth = private
    before = _snapshot(root, coll)
    out = run("dedup", coll, "--move-to", tmp_path / "dups", "--dry-run")
    assert out.exit_code == 0, out.output
    assert out.output.count("would move") == sum(len(v) for v in truth.values())
    assert _snapshot(root, coll) == before
    assert not (tmp_path / "dups").exists()


def test_move_keeps_the_kept_files_and_updates_the_collection(private, tmp_path):
    root, coll, truth = private
    files, ids = _snapshot(root, coll)
    target = tmp_path / "dups"
    out = run("dedup", coll, "--move-to", target)
    assert out.exit_code == 0, out.output
    moved = [c for v in truth.values() for c in v]
    for name in moved:
        assert not (root / name).exists()
        assert (target / name).read_bytes() == files[name]  # nothing lost
    for name in truth:
        assert (root / name).exists()
    after_files, after_ids = _snapshot(root, coll)
    assert len(after_ids) == len(ids) - len(moved)
    assert set(after_files) == set(files) - set(moved)
    with Store.open(coll) as store:
        assert find_duplicates(store) == []
        assert not store.problems()["codes without a live metadata row"]


def test_link_to_makes_links_and_changes_nothing_else(private, tmp_path):
    root, coll, truth = private
    before = _snapshot(root, coll)
    out = run("dedup", coll, "--link-to", tmp_path / "links")
    assert out.exit_code == 0, out.output
    name = truth["a/img000.png"][0]
    link = tmp_path / "links" / name
    assert link.is_symlink() and os.readlink(link) == str((root / name).resolve())
    assert _snapshot(root, coll) == before


def test_a_symlinked_duplicate_is_not_followed_out_of_the_root(private, tmp_path):
    root, coll, truth = private
    outside = tmp_path / "outside.png"
    name = truth["a/img000.png"][0]
    shutil.move(root / name, outside)
    os.symlink(outside, root / name)
    out = run("dedup", coll, "--move-to", tmp_path / "dups")
    assert out.exit_code == 0, out.output
    assert f"skip {(root / name).resolve()}" in out.output or "symbolic link" in out.output
    assert outside.exists() and (root / name).is_symlink()
    assert not (tmp_path / "dups" / name).exists()


@pytest.mark.parametrize("where", ["inside", "existing", "collection", "file", "readonly"])
def test_unsafe_targets_are_refused_and_nothing_moves(private, tmp_path, where):
    root, coll, truth = private
    before = _snapshot(root, coll)
    name = truth["a/img000.png"][0]
    if where == "inside":
        target, words = root / "dups", "inside the indexed root"
    elif where == "existing":
        target, words = tmp_path / "dups", "already exists"
        (target / name).parent.mkdir(parents=True)
        (target / name).write_bytes(b"someone else's file")
    elif where == "collection":
        target, words = coll / "dups", "inside the collection"
    elif where == "file":
        target, words = tmp_path / "plain.txt", "not a folder"
        target.write_text("x")
    else:
        target, words = Path("/sys/semhash-dedup-test"), "cannot write to the target folder"
    out = run("dedup", coll, "--move-to", target, "-q")
    assert out.exit_code == 1
    assert words in out.output and "Traceback" not in out.output
    assert out.output.startswith("Error:") and len(out.output.strip().splitlines()) == 1
    assert _snapshot(root, coll) == before
    if where == "existing":
        assert (target / name).read_bytes() == b"someone else's file"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes whatever the permissions")
def test_read_only_target_folder_is_refused(private, tmp_path):
    root, coll, _ = private
    target = tmp_path / "ro"
    target.mkdir()
    os.chmod(target, 0o555)
    before = _snapshot(root, coll)
    out = run("dedup", coll, "--move-to", target)
    assert out.exit_code == 1 and "cannot write" in out.output
    assert _snapshot(root, coll) == before


@pytest.mark.parametrize(
    "args,words",
    [
        (["--radius", "33"], "between 0 and 32"),
        (["--radius", "-1"], "between 0 and 32"),
        (["--threshold", "2"], "between -1 and 1"),
        (["--max-candidates", "0"], "at least 1"),
        (["--dry-run"], "needs --move-to"),
        (["--move-to", "x", "--link-to", "y"], "not both"),
        (["--query", "nowhere/"], "does not exist"),
        (["--against", "nowhere.semhash"], "not a semhash collection"),
    ],
)
def test_bad_options_are_one_sentence(dup_collection, args, words):
    _, coll, _ = dup_collection
    out = run("dedup", coll, *args)
    assert out.exit_code == 1, out.output
    assert words in out.output and "Traceback" not in out.output


def test_missing_raw_inputs_and_empty_collection(private):
    root, coll, _ = private
    for chunk in (coll / "raw").iterdir():
        chunk.unlink()
    out = run("dedup", coll)
    assert out.exit_code == 1 and "--verify none" in out.output
    assert run("dedup", coll, "--verify", "none").exit_code == 0
    remove_items(coll, path=root)
    out = run("dedup", coll)
    assert out.exit_code == 1 and "holds no items" in out.output


def test_query_folder_and_against_collection(dup_collection, tmp_path):
    root, coll, truth = dup_collection
    (tmp_path / "new").mkdir()
    copies = [c for v in truth.values() for c in v]
    for c in copies[:4]:
        shutil.copy(root / c, tmp_path / "new" / Path(c).name)
    rng = np.random.default_rng(99)
    smooth_image(rng).save(tmp_path / "new" / "unrelated.png")
    with Store.open(coll) as store:
        from semantic_hashing.query.dedup import folder_items

        items, _ = folder_items(store, tmp_path / "new")
        groups = find_duplicates(store, items)
    found = {Path(m.path).name for g in groups for m in g.duplicates}
    assert found == {Path(c).name for c in copies[:4]}
    for g in groups:  # each copy attaches to the collection item it was made from
        stem = Path(g.keep.path).stem
        assert all(Path(m.path).name.startswith(stem) for m in g.duplicates)
    other = tmp_path / "other.semhash"
    opts = fast_options()
    opts.model_path = coll / "model.pt"
    index_folder(tmp_path / "new", other, opts)
    out = run("dedup", coll, "--against", other, "--json")
    assert out.exit_code == 0, out.output
    assert out.output.count('"keep"') == len(groups)


def test_text_collection_finds_duplicate_documents(tmp_path):
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    pool = np.random.default_rng(1)
    words = sorted({"".join(pool.choice(letters, 6)) for _ in range(300)})
    rng = np.random.default_rng(0)
    for g in ("sci", "rec"):
        (tmp_path / "docs" / g).mkdir(parents=True)
    for i in range(40):
        body = " ".join(rng.choice(words, 60))
        (tmp_path / "docs" / "sci" / f"{i}").write_text(
            f"Newsgroups: sci\nMessage-ID: <{i}@x>\nSubject: post {i}\n\n{body}\n"
        )
        if i < 5:  # the same post cross-posted: another header, the same body
            (tmp_path / "docs" / "rec" / f"{i}").write_text(
                f"Newsgroups: sci,rec\nPath: other\nMessage-ID: <{i}@x>\nSubject: post {i}\n\n"
                f"{body}\n")  # fmt: skip
    coll = tmp_path / "t.semhash"
    index_folder(tmp_path / "docs", coll, fast_options(bits=16, vocab=400))
    with Store.open(coll) as store:
        groups = find_duplicates(store)
    pairs = {tuple(sorted(Path(m.path).parent.name for m in g.members)) for g in groups}
    names = sorted(Path(g.keep.path).name for g in groups)
    assert names == ["0", "1", "2", "3", "4"] and pairs == {("rec", "sci")}
    out = run("dedup", coll, "--sheet", tmp_path / "x.png")
    assert out.exit_code == 1 and "text collection" in out.output


def test_dedup_lifecycle_with_the_installed_command(tmp_path):
    exe = Path(sys.executable).parent / "semhash"
    if not exe.exists():
        pytest.skip("the semhash command is not installed in this environment")
    root = tmp_path / "photos"
    truth = make_dup_folder(root, n=30, seed=5)
    coll = tmp_path / "c.semhash"

    wide = ("--radius", "32", "--max-candidates", "100")  # a barely trained model: all pairs

    def sh(*args, ok=True):
        res = subprocess.run([str(exe), *map(str, args), "-q"], capture_output=True, text=True,
                             timeout=300)  # fmt: skip
        assert (res.returncode == 0) == ok, res.stderr
        return res

    sh("index", root, "-c", coll, "--bits", "32", "--epochs", "3")
    groups = sh("dedup", coll, *wide, "--json").stdout.strip().splitlines()
    assert len(groups) == len(truth)
    sh("dedup", coll, *wide, "--move-to", tmp_path / "dups", "--dry-run")
    assert all((root / c).exists() for v in truth.values() for c in v)
    bad = sh("dedup", coll, "--move-to", root / "inside", ok=False)
    assert bad.stderr.startswith("Error:") and "Traceback" not in bad.stderr
    sh("dedup", coll, *wide, "--move-to", tmp_path / "dups")
    n = sum(len(v) for v in truth.values())
    assert len(list((tmp_path / "dups").rglob("*.*"))) == n
    assert all((root / k).exists() for k in truth)  # the kept files stay
    sh("check", coll)  # index, metadata and stored inputs agree
    with Store.open(coll) as store:
        assert len(store.index) == 30
        assert find_duplicates(store, radius=32, max_candidates=100) == []


def test_alike_chains_do_not_join_unlike_ends():
    from semantic_hashing.query.dedup import Items, star_groups

    n = 5
    items = Items(np.arange(n), [f"{i}" for i in range(n)], np.zeros((n, 1), np.uint8), None,
                  ["", "", "", "h", "h"], size=np.array([1, 1, 9, 1, 1]),
                  mtime=np.zeros(n), pixels=np.zeros(n))  # fmt: skip
    near = (np.array([0, 1, 2]), np.array([1, 2, 3]))  # 0~1~2~3, and 3 == 4 (same bytes)
    exact = [(np.array([3]), np.array([4]))]
    groups = [(k, m.tolist()) for k, m in star_groups(items, near, exact, "first")]
    assert groups == [(0, [0, 1]), (2, [2, 3, 4])]
    groups = [(k, m.tolist()) for k, m in star_groups(items, near, exact, "largest")]
    assert groups == [(2, [1, 2, 3, 4])]  # the largest item keeps its neighbours; 0 is alone


def test_group_similarities_equal_a_fresh_measure(dup_collection):
    """Groups take the kept-vs-member similarity from verification (not measured twice):
    each must equal the input kind's similarity of that pair computed on its own."""
    _, coll, _ = dup_collection
    with Store.open(coll) as store:
        groups = find_duplicates(store)
        items = collection_items(store, True)
        pos = {int(i): p for p, i in enumerate(items.ids)}
        checked = 0
        for g in groups:
            for m in g.duplicates:
                a, b = np.array([pos[g.keep.id]]), np.array([pos[m.id]])
                fresh = store.input_kind.pair_similarity(items.inputs, items.inputs, a, b)[0]
                assert m.similarity == round(float(fresh), 4)
                checked += 1
    assert checked >= 5
