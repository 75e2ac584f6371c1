"""Real photo folders: large JPEGs read at model size, one code per file whether indexed or
searched, HEIC with and without its extra, and the parallel reader."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from semantic_hashing.indexer.maintenance import check_collection
from semantic_hashing.indexer.pipeline import index_folder
from semantic_hashing.indexer.store import Store
from semantic_hashing.query.search import load_queries, search
from semantic_hashing.retrieval import images
from semantic_hashing.retrieval.errors import SemhashError
from semantic_hashing.retrieval.images import UnreadableImage, load_image
from semantic_hashing.retrieval.pool import read_in_order, resolve_workers

from .conftest import fast_options, make_image_folder

SEMHASH = Path(sys.executable).parent / "semhash"  # the installed command


def photo(path, width=3000, height=2000, seed=0, exif=None, quality=90):
    """A smooth random colour field with a little seeded noise, like a photo's content."""
    rng = np.random.default_rng(seed)
    small = Image.fromarray(rng.integers(0, 256, (6, 9, 3), dtype=np.uint8))
    img = small.resize((width, height), Image.Resampling.BICUBIC)
    noisy = np.asarray(img, np.int16) + rng.integers(-8, 9, (height, width, 3), dtype=np.int16)
    img = Image.fromarray(noisy.clip(0, 255).astype(np.uint8))
    img.save(path, quality=quality, **({"exif": exif} if exif is not None else {}))
    return path


def full_decode(path, size, channels):
    """The reference: the whole image decoded, then resized (the reader before draft mode)."""
    with Image.open(path) as img:
        img = img.convert("L" if channels == 1 else "RGB")
        img = img.resize((size, size), Image.Resampling.BILINEAR)
    arr = np.asarray(img)
    return arr[None] if channels == 1 else arr.transpose(2, 0, 1)


@pytest.mark.parametrize("channels", [1, 3])
def test_large_jpeg_is_read_small_and_close_to_a_full_decode(tmp_path, channels):
    path = photo(tmp_path / "big.jpg")
    arr, info = load_image(path, 32, channels)
    assert arr.shape == (channels, 32, 32) and (info.width, info.height) == (3000, 2000)
    ref = full_decode(path, 32, channels).astype(int)
    assert np.abs(arr.astype(int) - ref).mean() < 1  # the same picture, within rounding


def test_exif_orientation_on_a_large_jpeg(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6  # displayed rotated 90 degrees clockwise
    tagged = photo(tmp_path / "tagged.jpg", 1200, 800, seed=3, exif=exif, quality=95)
    upright = tmp_path / "upright.jpg"
    with Image.open(tagged) as img:
        img.transpose(Image.Transpose.ROTATE_270).save(upright, quality=95)
    a, b = load_image(tagged, 32, 3)[0].astype(int), load_image(upright, 32, 3)[0].astype(int)
    assert np.abs(a - b).mean() < 3
    assert np.abs(a - np.rot90(b, axes=(1, 2))).mean() > 3 * np.abs(a - b).mean()


def test_large_jpeg_indexed_and_searched_gets_one_code(tmp_path, collection):
    folder = make_image_folder(tmp_path / "photos", per_class=3)
    big = photo(folder / "big.jpg", seed=5)
    opts = fast_options()
    opts.model_path = collection / "model.pt"
    index_folder(folder, tmp_path / "c.semhash", opts)
    coll = Store.open(tmp_path / "c.semhash")
    try:
        (item,) = [i for i, r in coll.meta.get(coll.index.ids().tolist()).items()
                   if r.path == str(big.resolve())]  # fmt: skip
        stored = coll.index.codes()[coll.index.ids().tolist().index(item)]
        queries = load_queries(coll, big)
        assert np.array_equal(coll.encoder.encode(queries.inputs)[0], stored)
        hits = search(coll, queries, k=1)[0].results
        assert hits[0].id == item and hits[0].distance == 0
    finally:
        coll.close()


def heic(path, seed=0):
    pillow_heif = pytest.importorskip("pillow_heif")
    pillow_heif.register_heif_opener()
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)).save(path)
    return path


def test_heic_is_indexed_with_the_extra(tmp_path, collection):
    folder = make_image_folder(tmp_path / "photos", per_class=2)
    heic(folder / "phone.heic")
    opts = fast_options()
    opts.model_path = collection / "model.pt"
    report = index_folder(folder, tmp_path / "c.semhash", opts)
    assert report.added == 7 and not report.skipped
    arr, info = load_image(folder / "phone.heic", 28, 1)
    assert (info.width, info.height) == (64, 48) and arr.shape == (1, 28, 28)


def test_heic_without_the_extra_is_skipped_with_the_extra_named(tmp_path, collection, monkeypatch):
    folder = make_image_folder(tmp_path / "photos", per_class=2)
    heic(folder / "phone.heic")
    monkeypatch.setitem(sys.modules, "pillow_heif", None)  # `import pillow_heif` now fails
    images.heif_support.cache_clear()
    try:
        with pytest.raises(UnreadableImage, match=r"pillow-heif.*\[heif\]"):
            load_image(folder / "phone.heic", 28, 1)
        opts = fast_options()
        opts.model_path = collection / "model.pt"
        report = index_folder(folder, tmp_path / "c.semhash", opts)
    finally:
        images.heif_support.cache_clear()
    assert report.added == 6
    assert [(p.rsplit("/", 1)[-1], "semantic-hashing[heif]" in r) for p, r in report.skipped] == [
        ("phone.heic", True)
    ]


@pytest.mark.skipif(not images.features.check("avif"), reason="this Pillow has no AVIF")
def test_avif_is_read(tmp_path):
    rng = np.random.default_rng(1)
    Image.fromarray(rng.integers(0, 256, (40, 60, 3), dtype=np.uint8)).save(tmp_path / "a.avif")
    arr, info = load_image(tmp_path / "a.avif", 32, 3)
    assert arr.shape == (3, 32, 32) and info.width == 60


def test_pool_keeps_order_and_returns_errors(tmp_path):
    def read(n):
        if n % 7 == 3:
            raise UnreadableImage(f"bad {n}")
        return n * n

    for workers, pool in [(1, "thread"), (3, "thread"), (2, "process")]:
        got = list(read_in_order(_square_or_fail if pool == "process" else read, range(40),
                                 UnreadableImage, workers, ahead=5, pool=pool))  # fmt: skip
        assert [g if isinstance(g, int) else str(g) for g in got] == [
            f"bad {n}" if n % 7 == 3 else n * n for n in range(40)
        ]


def _square_or_fail(n):
    if n % 7 == 3:
        raise UnreadableImage(f"bad {n}")
    return n * n


@pytest.mark.parametrize("bad", [0, -2, 1.5, True])
def test_workers_below_one_are_refused(bad):
    with pytest.raises(SemhashError, match="--workers"):
        resolve_workers(bad)


def test_parallel_index_equals_single_reader_and_skips_bad_files(tmp_path, collection):
    folder = make_image_folder(tmp_path / "photos", per_class=10)
    (folder / "bars" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    whole = photo(tmp_path / "x.jpg", 300, 200).read_bytes()
    (folder / "bars" / "cut.jpg").write_bytes(whole[:900])
    results = {}
    for workers in (1, 2):
        opts = fast_options()
        opts.model_path, opts.workers, opts.chunk_size = collection / "model.pt", workers, 7
        report = index_folder(folder, tmp_path / f"w{workers}.semhash", opts)
        coll = Store.open(tmp_path / f"w{workers}.semhash")
        ids = coll.index.ids().tolist()
        rows = coll.meta.get(ids)
        codes = {rows[i].path: c.tobytes() for i, c in zip(ids, coll.index.codes(), strict=True)}
        coll.close()
        results[workers] = (report.added, sorted(report.skipped), codes)
    assert results[1] == results[2]
    added, skipped, _ = results[2]
    assert added == 30 and [p.rsplit("/", 1)[-1] for p, _ in skipped] == ["broken.png", "cut.jpg"]


def _chunks(coll):
    raw = coll / "raw"
    return len(list(raw.glob("*.npz"))) if raw.is_dir() else 0


def test_killed_parallel_run_resumes_to_a_clean_build(tmp_path, collection):
    folder = make_image_folder(tmp_path / "photos", per_class=50, seed=4)
    model, coll = collection / "model.pt", tmp_path / "killed.semhash"
    cmd = [str(SEMHASH), "index", str(folder), "-c", str(coll), "--model", str(model),
           "--chunk-size", "20", "--workers", "2", "-q"]  # fmt: skip
    proc = subprocess.Popen(cmd)
    deadline = time.monotonic() + 60
    while proc.poll() is None and _chunks(coll) < 2 and time.monotonic() < deadline:
        time.sleep(0.005)
    killed = proc.poll() is None
    if killed:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    subprocess.run(cmd, check=True, timeout=120)
    opts = fast_options()
    opts.model_path, opts.workers = model, 1
    index_folder(folder, tmp_path / "clean.semhash", opts)
    got, want = _codes(coll), _codes(tmp_path / "clean.semhash")
    assert killed and len(got) == 150 and got == want
    assert not any(check_collection(coll)["problems"].values())


def _codes(path):
    coll = Store.open(path)
    try:
        ids = coll.index.ids().tolist()
        rows = coll.meta.get(ids)
        return {rows[i].path: c.tobytes() for i, c in zip(ids, coll.index.codes(), strict=True)}
    finally:
        coll.close()
