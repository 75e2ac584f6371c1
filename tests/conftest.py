"""Shared fixtures: small seeded image folders, one tiny collection built once, and a
PostgreSQL server and a Milvus server for the session."""

from __future__ import annotations

import io
import os
import shutil
import socket
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from semantic_hashing.cli import cli
from semantic_hashing.indexer.pipeline import IndexOptions, index_folder
from semantic_hashing.retrieval.codes import pack_bits
from semantic_hashing.retrieval.fitting import TrainSpec
from semantic_hashing.retrieval.training import TrainConfig

from .milvus_server import MilvusServer, NoMilvus
from .pg_server import NoServer, PostgresServer

CLASSES = ("bars", "columns", "diagonal")


def pattern(cls: int, rng: np.random.Generator, size: int = 28) -> np.ndarray:
    """A noisy gray image whose bright structure depends on its class."""
    img = rng.normal(40, 20, (size, size))
    off = rng.integers(0, 4)
    if cls == 0:
        img[off::6, :] += 170
    elif cls == 1:
        img[:, off::6] += 170
    else:
        idx = np.arange(size)
        for w in range(3):
            img[idx, (idx + off + w) % size] += 170
    return np.clip(img, 0, 255).astype(np.uint8)


def make_image_folder(root: Path, per_class: int = 40, seed: int = 0, rgb: bool = False) -> Path:
    rng = np.random.default_rng(seed)
    for c, name in enumerate(CLASSES):
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            arr = pattern(c, rng)
            img = Image.fromarray(arr)
            if rgb:
                img = Image.merge("RGB", (img, img.point(lambda v: v // 2), img))
            img.save(root / name / f"{name}-{i:03d}.png")
    return root


def png_claiming_size(path: Path, width: int, height: int) -> None:
    """A tiny PNG whose header claims `width` x `height` (a decompression bomb)."""
    Image.new("L", (4, 4)).save(path)
    data = bytearray(path.read_bytes())
    ihdr = data[12:29]
    ihdr[4:12] = struct.pack(">II", width, height)
    data[12:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(ihdr)))
    path.write_bytes(bytes(data))


def fast_options(epochs: int = 3, **kw) -> IndexOptions:
    tcfg = TrainConfig(epochs=epochs, batch_size=64)
    return IndexOptions(spec=TrainSpec(train=tcfg, **kw))


@pytest.fixture(scope="session")
def image_folder(tmp_path_factory) -> Path:
    return make_image_folder(tmp_path_factory.mktemp("images"))


@pytest.fixture(scope="session")
def collection(tmp_path_factory, image_folder) -> Path:
    """A 16-bit collection over `image_folder` (trained once per test session)."""
    path = tmp_path_factory.mktemp("coll") / "tiny.semhash"
    index_folder(image_folder, path, fast_options(bits=16))
    return path


def _started(make, errors: tuple, name: str, require_env: str, hint):
    """A test server made by `make()` and started; where none can run, the test is skipped
    with the reason (`hint(exc)` says how to install what is missing), or fails when
    `require_env` is set to 1 (CI)."""
    try:
        server = make()
    except errors as exc:
        _unavailable(name, require_env, hint(exc))
    try:
        server.start()
    except errors as exc:
        server.stop()
        _unavailable(name, require_env, str(exc))
    return server


def _unavailable(name: str, require_env: str, reason: str) -> None:
    reason = f"no {name} server: {reason}"
    if os.environ.get(require_env) == "1":
        pytest.fail(reason)
    pytest.skip(reason)


def _postgres_server() -> PostgresServer:
    import psycopg  # noqa: F401

    return PostgresServer()


@pytest.fixture(scope="session")
def postgres():
    """A PostgreSQL server on a free localhost port, stopped at the end of the session.
    Skipped, with the reason, where none can run; with SEMHASH_REQUIRE_POSTGRES=1 (CI)
    that is a failure instead."""
    server = _started(
        _postgres_server,
        (ImportError, NoServer),
        "PostgreSQL",
        "SEMHASH_REQUIRE_POSTGRES",
        lambda exc: (
            f"{exc} (pip install -e '.[postgres]')" if isinstance(exc, ImportError) else str(exc)
        ),
    )
    yield server
    server.stop()


@pytest.fixture
def pg_url(postgres) -> str:
    """The URL (password included) of a new, empty PostgreSQL database."""
    return postgres.url(postgres.create_database())


@pytest.fixture(scope="session")
def milvus_server():
    """An embedded Milvus standalone server on free loopback ports, stopped at the end of
    the session. Skipped, with the reason, where none can run; with SEMHASH_REQUIRE_MILVUS=1
    (CI) that is a failure instead."""
    server = _started(
        MilvusServer,
        (NoMilvus,),
        "Milvus",
        "SEMHASH_REQUIRE_MILVUS",
        lambda exc: f"{exc} (pip install -e '.[milvus]' on Linux x86_64)",
    )
    yield server
    server.stop()


# -- helpers shared by several test files ------------------------------------------
def seeded_codes(n: int, bits: int, seed: int) -> np.ndarray:
    # few bits per code set, so that many distances tie
    rng = np.random.default_rng(seed)
    return pack_bits(rng.random((n, bits)) < 0.1)


def brute_force_hamming(a, b):
    return np.array([[bin(int.from_bytes(x.tobytes()) ^ int.from_bytes(y.tobytes())).count("1")
                      for y in b] for x in a])  # fmt: skip


def run(*args, ok=True):
    result = CliRunner().invoke(cli, [str(a) for a in args])
    if ok:
        assert result.exit_code == 0, result.output + repr(result.exception)
    return result


def assert_user_error(result, *words):
    """Non-zero exit, one sentence, no traceback."""
    assert result.exit_code != 0
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    for word in words:
        assert word in result.output


TOPICS = {
    "space": "orbit shuttle launch nasa rocket moon planet satellite astronaut mission",
    "hockey": "goal puck ice team season player playoff coach game score",
    "cooking": "recipe oven flour butter sugar bake kitchen pepper garlic sauce",
}


FILLER = "about really think people said would could just know time".split()


def make_corpus(root, per_topic=30, seed=0):
    rng = np.random.default_rng(seed)
    for topic, words in TOPICS.items():
        (root / topic).mkdir(parents=True, exist_ok=True)
        words = words.split()
        for i in range(per_topic):
            body = " ".join(rng.choice(words + FILLER, size=40))
            header = (f"Newsgroups: rec.{topic}\nPath: news!{topic}\nSubject: post {i} on "
                      f"{topic}\nLines: 3\n\n")  # fmt: skip
            (root / topic / str(1000 + i)).write_text(header + body + "\n")
    return root


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def clustered_codes(n: int, bits: int, seed: int, centres: int = 30, noise: float = 0.08):
    """Codes scattered around a few random centres, like a trained model's codes."""
    rng = np.random.default_rng(seed)
    middle = np.random.default_rng(99).random((centres, bits)) < 0.5
    flips = rng.random((n, bits)) < noise
    return pack_bits(middle[rng.integers(0, centres, n)] ^ flips)


def synthetic(n_per_class=60, seed=0):
    rng = np.random.default_rng(seed)
    images = np.stack([pattern(c, rng) for c in range(3) for _ in range(n_per_class)])[:, None]
    return images, np.repeat(np.arange(3), n_per_class)


# -- duplicate folders (tests/test_dedup.py, the kill -9 and full-disk suites) ------------
def smooth_image(rng: np.random.Generator, size: int = 28) -> Image.Image:
    """A random smooth gray image: distinct ones are uncorrelated."""
    low = rng.uniform(0, 255, (7, 7)).astype(np.uint8)
    return Image.fromarray(low).resize((size, size), Image.Resampling.BICUBIC)


def copy_of(img: Image.Image, how: int) -> tuple[bytes, str]:
    buf = io.BytesIO()
    if how == 0:
        img.save(buf, "JPEG", quality=50)
        return buf.getvalue(), "jpg"
    if how == 1:
        img.point(lambda v: min(255, int(v * 1.15))).save(buf, "PNG")
    else:
        w, h = img.size
        img.crop((1, 1, w - 1, h - 2)).resize((w * 2, h * 2)).save(buf, "PNG")
    return buf.getvalue(), "png"


def make_dup_folder(root: Path, n: int = 60, seed: int = 0) -> dict[str, list[str]]:
    """`n` distinct images; the first 10 get one or two near copies, two get byte copies.
    Returns {original name: [its copies]}."""
    rng = np.random.default_rng(seed)
    (root / "a").mkdir(parents=True)
    (root / "b").mkdir()
    truth: dict[str, list[str]] = {}
    for i in range(n):
        img = smooth_image(rng)
        name = f"a/img{i:03d}.png"
        img.save(root / name)
        if i < 10:
            truth[name] = []
            for k in range(1 + i % 2):
                data, ext = copy_of(img, (i + k) % 3)
                copy = f"b/img{i:03d}-copy{k}.{ext}"
                (root / copy).write_bytes(data)
                truth[name].append(copy)
        elif i < 12:
            shutil.copyfile(root / name, root / f"b/img{i:03d}-same.png")
            truth[name] = [f"b/img{i:03d}-same.png"]
    return truth
