"""Models, training and codes: shapes, no collapse, checkpoint round trip."""

import numpy as np
import pytest
import torch

from retrieval.codes import HashEncoder, hamming
from retrieval.errors import SemhashError
from retrieval.models import HashingAutoencoder, ModelConfig, build_model
from retrieval.training import TrainConfig, train

from .conftest import pattern


def synthetic(n_per_class=60, seed=0):
    rng = np.random.default_rng(seed)
    images = np.stack([pattern(c, rng) for c in range(3) for _ in range(n_per_class)])[:, None]
    return images, np.repeat(np.arange(3), n_per_class)


@pytest.mark.parametrize("channels,size", [(1, 28), (3, 32), (1, 16)])
def test_shapes(channels, size):
    model = build_model(ModelConfig(bits=32, channels=channels, image_size=size))
    x = torch.rand(4, channels, size, size)
    z, out = model(x)
    assert z.shape == (4, 32) and out.shape == x.shape
    loss, parts = model.loss(x)
    assert loss.ndim == 0 and torch.isfinite(loss) and "recon" in parts


def test_bad_config_is_a_user_error():
    with pytest.raises(SemhashError, match="multiple of 8"):
        build_model(ModelConfig(bits=12))
    with pytest.raises(SemhashError, match="unknown model type"):
        build_model(ModelConfig(model_type="nope"))


def test_base_class_hook_raises():
    with pytest.raises(NotImplementedError):
        HashingAutoencoder(ModelConfig())


@pytest.fixture(scope="module")
def trained():
    images, labels = synthetic()
    model = build_model(ModelConfig(bits=16))
    train(model, images, TrainConfig(epochs=4, batch_size=32), torch.device("cpu"))
    encoder = HashEncoder(model)
    encoder.fit_thresholds(encoder.real(images))
    return encoder, images, labels


def test_codes_do_not_collapse_and_cluster_by_class(trained):
    encoder, images, labels = trained
    codes = encoder.encode(images)
    assert codes.shape == (len(images), 2) and codes.dtype == np.uint8
    bits = np.unpackbits(codes, axis=1)
    # median thresholds split every bit roughly in half; a collapsed code would not
    assert np.all(np.abs(bits.mean(0) - 0.5) < 0.2)
    assert len({c.tobytes() for c in codes}) >= 3  # at least one code per class
    d = hamming(codes, codes).astype(float)
    same = labels[:, None] == labels[None, :]
    np.fill_diagonal(same, False)
    other = labels[:, None] != labels[None, :]
    assert d[same].mean() < d[other].mean() - 1.0


def test_checkpoint_round_trip(trained, tmp_path):
    encoder, images, _ = trained
    encoder.extra = {"note": ["kept"]}
    encoder.save(tmp_path / "m.pt", {"seconds": 1.0})
    back = HashEncoder.load(tmp_path / "m.pt")
    assert back.config == encoder.config
    assert back.fingerprint() == encoder.fingerprint()
    assert np.array_equal(back.encode(images), encoder.encode(images))
    assert back.extra == {"note": ["kept"]}


def test_loading_a_non_checkpoint_is_a_user_error(tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(SemhashError, match="not a semhash model"):
        HashEncoder.load(bad)
    with pytest.raises(SemhashError, match="does not exist"):
        HashEncoder.load(tmp_path / "missing.pt")
