"""Models, training and codes: shapes, no collapse, checkpoint round trip."""

import numpy as np
import pytest
import torch

from semantic_hashing.retrieval.codes import HashEncoder, hamming, thermometer
from semantic_hashing.retrieval.errors import SemhashError
from semantic_hashing.retrieval.families import build_model
from semantic_hashing.retrieval.models import HashingAutoencoder, ModelConfig
from semantic_hashing.retrieval.training import TrainConfig, train

from .conftest import synthetic


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
    with pytest.raises(SemhashError, match="bow-ae is the text model"):
        build_model(ModelConfig(model_type="bow-ae", kind="image"))


def test_base_class_hook_raises():
    with pytest.raises(NotImplementedError):
        HashingAutoencoder(ModelConfig())


@pytest.fixture(scope="module")
def trained():
    images, labels = synthetic()
    model = build_model(ModelConfig(bits=16, threshold="median"))
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


def test_thermometer_counts_quantile_steps_along_components():
    # a strong axis (uniform, spread 10, variance 33) and a weaker one (spread 3, variance 3):
    # gains 25, 4.6 for the strong one beat 2.25 for the weak one, whose 0.42 then loses to
    # the strong one's third 1.6; with 3 bits the strong axis takes 2, the weak one 1
    rng = np.random.default_rng(0)
    real = np.column_stack([rng.uniform(-10, 10, 20000), rng.uniform(-3, 3, 20000)])
    projection, thresholds = thermometer(real, bits=3)
    assert projection.shape == (2, 3) and thresholds.shape == (3,)
    assert np.allclose(np.abs(projection[0, :2]), 1, atol=0.01)  # bits 1-2: strong axis
    assert np.allclose(np.abs(projection[1, 2]), 1, atol=0.01)  # bit 3: weak axis
    assert np.allclose(np.abs(thresholds[:2]), 10 / 3, atol=0.3)  # its 1/3 and 2/3 quantiles
    assert abs(thresholds[2]) < 0.2  # the weak axis' median
    pts = np.array([[-9.0, -1.0], [0.0, -1.0], [9.0, -1.0], [0.0, 2.5]], dtype=np.float32)
    bits = (pts @ projection > thresholds).astype(int)
    steps = np.abs(bits[:, None, :] - bits[None, :, :]).sum(axis=2)
    assert steps[0, 2] == 2 and steps[0, 1] == 1 and steps[1, 2] == 1  # quantile steps
    assert steps[1, 3] == 1  # crossing the weak axis' median is one step


def test_thermometer_allocates_bits_by_variance():
    # variances 25 and 1: gains 18.75, 3.47, 1.22 (strong) beat 0.75 (weak), then 0.56 < 0.75
    rng = np.random.default_rng(1)
    real = np.column_stack([rng.normal(0, 5, 50000), rng.normal(0, 1, 50000)])
    projection, _ = thermometer(real, bits=4)
    strong = np.abs(projection[0]) > 0.99
    assert strong.tolist() == [True, True, True, False]


def refitted(encoder: HashEncoder, images, threshold: str) -> HashEncoder:
    """The same trained model with another quantiser, fitted on `images`."""
    cfg = ModelConfig(**{**encoder.config.to_dict(), "threshold": threshold})
    other = HashEncoder(build_model(cfg))
    other.model.load_state_dict(encoder.model.state_dict())
    other.fit_thresholds(other.real(images))
    return other


def test_thermometer_encoder_round_trip(trained, tmp_path):
    encoder, images, labels = trained
    thermo = refitted(encoder, images, "thermometer")
    codes = thermo.encode(images)
    assert codes.shape == (len(images), 2)
    thermo.save(tmp_path / "t.pt")
    back = HashEncoder.load(tmp_path / "t.pt")
    assert back.projection is not None and back.fingerprint() == thermo.fingerprint()
    assert np.array_equal(back.encode(images), codes)
    d = hamming(codes, codes).astype(float)
    same = labels[:, None] == labels[None, :]
    np.fill_diagonal(same, False)
    assert d[same].mean() < d[labels[:, None] != labels[None, :]].mean() - 1.0


def test_unknown_threshold_is_a_user_error():
    with pytest.raises(SemhashError, match="unknown threshold"):
        build_model(ModelConfig(threshold="mean"))


def test_split_points_sit_between_values():
    from semantic_hashing.retrieval.codes import split_points

    values = np.array([[1.0, 10.0], [2.0, 20.0], [3.0, 30.0], [4.0, 40.0], [5.0, 50.0]])
    assert split_points(values, [0.5]).tolist() == [[2.5, 25.0]]  # 2 below, 3 above
    assert split_points(values[:, 0], [0.2, 0.8]).tolist() == [1.5, 4.5]
    assert split_points(values[:1], [0.5]).tolist() == [[1.0, 10.0]]  # one item: its value


def test_an_older_checkpoint_keeps_its_fingerprint(trained, tmp_path):
    """Fields added to ModelConfig later take their defaults when an older checkpoint is
    loaded, but its fingerprint (what its collection recorded) stays the same, and so it
    does through save and load."""
    enc = trained[0]
    enc.save(tmp_path / "new.pt")
    ckpt = torch.load(tmp_path / "new.pt", weights_only=True)
    for added in ("input_weighting", "decoder_layers"):  # not in checkpoints before them
        ckpt["config"].pop(added)
    torch.save(ckpt, tmp_path / "old.pt")
    old = HashEncoder.load(tmp_path / "old.pt")
    as_new = HashEncoder(old.model, old.thresholds, old.projection, old.extra)
    assert old.fingerprint() != as_new.fingerprint()  # the added fields would change it
    old.save(tmp_path / "again.pt")
    assert HashEncoder.load(tmp_path / "again.pt").fingerprint() == old.fingerprint()
    assert "decoder_layers" not in torch.load(tmp_path / "again.pt", weights_only=True)["config"]


def test_augment_keeps_shape_range_and_changes_the_image():
    from semantic_hashing.retrieval.models import augment

    torch.manual_seed(0)
    for channels in (1, 3):
        x = torch.rand(16, channels, 32, 32)
        y = augment(x)
        assert y.shape == x.shape and y.min() >= 0 and y.max() <= 1
        assert (y - x).abs().mean() > 0.01  # a view, not the image itself


def test_view_consistency_rewards_agreeing_spread_decorrelated_codes():
    from semantic_hashing.retrieval.models import view_consistency

    torch.manual_seed(0)
    a = 2 * torch.randn(256, 16)  # spread, nearly uncorrelated units
    same = view_consistency(a, a.clone())
    other = view_consistency(a, 2 * torch.randn(256, 16))
    collapsed = view_consistency(torch.zeros(256, 16), torch.zeros(256, 16))
    correlated = a[:, :1].expand(256, 16)
    assert same < 0.2 < other  # views that disagree cost more
    assert collapsed > 1.5  # every unit below unit spread, in both views
    assert view_consistency(correlated, correlated.clone()) > same + 1  # redundant units


def test_consistency_weight_adds_its_term_to_the_loss():
    model = build_model(ModelConfig(bits=16, channels=3, image_size=32, corruption="augment",
                                    consistency_weight=10.0))  # fmt: skip
    loss, parts = model.loss(torch.rand(8, 3, 32, 32))
    assert "consistency" in parts and torch.isfinite(loss)
    assert loss >= parts["recon"] + 10.0 * parts["consistency"] - 1e-3


def test_itq_rotates_correlated_codes_into_balanced_bits_near_the_cube():
    from semantic_hashing.retrieval.codes import itq

    rng = np.random.default_rng(2)
    # four clusters at the corners of a square, seen through a random rotation and scale
    corners = np.array([[1, 1], [1, -1], [-1, 1], [-1, -1]], dtype=float)
    labels = rng.integers(0, 4, 4000)
    mix = np.array([[3.0, 1.0], [-0.5, 2.0]])
    real = (corners[labels] + 0.2 * rng.standard_normal((4000, 2))) @ mix + 5
    projection, thresholds = itq(real, bits=2)
    bits = real.astype(np.float32) @ projection > thresholds
    assert np.allclose(bits.mean(axis=0), 0.5, atol=0.05)  # balanced cuts
    # each cluster gets one code and the four codes differ: the rotation found the corners
    codes = {tuple(bits[labels == c].mean(axis=0).round()) for c in range(4)}
    assert len(codes) == 4
    purity = [np.mean((bits[labels == c] == bits[labels == c].mean(0).round()).all(1))
              for c in range(4)]  # fmt: skip
    assert min(purity) > 0.95
    # a threshold never sits on an item's value: one item alone is cut as in the batch
    assert np.all(np.abs(real.astype(np.float32) @ projection - thresholds) > 0)
    with pytest.raises(SemhashError, match="at least 3 real dimensions"):
        itq(real, bits=3)


def test_itq_encoder_round_trip(trained, tmp_path):
    encoder, images, _ = trained
    rotated = refitted(encoder, images, "itq")
    codes = rotated.encode(images)
    rotated.save(tmp_path / "i.pt")
    back = HashEncoder.load(tmp_path / "i.pt")
    assert back.projection is not None and np.array_equal(back.encode(images), codes)
    assert np.array_equal(back.encode(images[:1]), codes[:1])  # alone as in the batch


def test_copies_of_one_item_never_straddle_a_cut():
    """Four copies of one file (their values equal up to encoding noise) sit on one side of
    every cut, and a single copy encoded alone (noise ~1e-7) lands on the same side."""
    from semantic_hashing.retrieval.codes import SAME_VALUE, split_points

    rng = np.random.default_rng(0)
    copy = rng.normal(size=8)
    others = rng.normal(size=(2, 8))
    values = np.vstack([copy, copy + 1e-7, copy - 1e-7, copy, others])
    cuts = split_points(values, np.arange(1, 6) / 6)
    for noisy in (copy, copy + 1.2e-7, copy - 1.2e-7):
        assert ((noisy > cuts) == (copy > cuts)).all()
    gap = np.abs(values[:, None, :] - cuts[None]).min()
    assert gap > SAME_VALUE  # no cut within noise of any value
    same = np.ones((5, 3))  # no real gap at all: one cut above every value
    assert (split_points(same, [0.5]) > 1).all()
