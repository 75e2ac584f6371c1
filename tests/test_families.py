"""The autoencoder families: registry, config defaults, regularisers, training, checkpoints."""

import numpy as np
import pytest
import torch

from semantic_hashing.retrieval.codes import HashEncoder
from semantic_hashing.retrieval.families import (
    FAMILIES,
    MODEL_TYPES,
    ContractiveAE,
    build_model,
    family_config,
)
from semantic_hashing.retrieval.training import TrainConfig, train

from .conftest import synthetic


def test_every_family_is_registered_with_its_defaults():
    assert set(FAMILIES) == {"ae", "sparse-ae", "contractive-ae", "vae", "conv-dae"}
    assert set(FAMILIES) <= set(MODEL_TYPES)
    assert family_config("ae").corruption == "none"
    assert family_config("conv-dae").corruption == "shift"
    assert family_config("vae").code_noise == 0.0
    assert family_config("sparse-ae", bits=32).bits == 32


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_shapes_loss_and_regulariser(name):
    torch.manual_seed(0)
    model = build_model(family_config(name, bits=16))
    x = torch.rand(6, 1, 28, 28)
    z, out = model(x)
    assert z.shape == (6, 16) and out.shape == x.shape
    loss, parts = model.loss(x)
    loss.backward()
    assert torch.isfinite(loss) and set(parts) == {"recon", "balance", "reg"}
    assert (parts["reg"] == 0) == (name in ("ae", "conv-dae"))


def test_contractive_penalty_is_the_code_layer_jacobian():
    torch.manual_seed(0)
    model = build_model(family_config("contractive-ae", bits=8, hidden=32)).eval()
    x = torch.rand(3, 1, 28, 28)
    trunk, head = model.encoder[:-1], model.encoder[-1]
    a = trunk(x).detach()
    # autograd: squared Frobenius norm of d sigmoid(head(a)) / d a, per item
    frob = [torch.autograd.functional.jacobian(lambda v: torch.sigmoid(head(v)), a[i])
            .pow(2).sum() for i in range(3)]  # fmt: skip
    expected = ContractiveAE.weight * x[0].numel() * torch.stack(frob).mean()
    got = model.regularizer(x, head(a), None)
    assert got.item() == pytest.approx(expected.item(), rel=1e-4)


def test_vae_codes_are_the_mean_in_eval():
    torch.manual_seed(0)
    model = build_model(family_config("vae", bits=8))
    x = torch.rand(4, 1, 28, 28)
    model.train()
    assert not torch.equal(model.code_logits(x), model.code_logits(x))  # sampled
    model.eval()
    assert torch.equal(model.code_logits(x), model.code_logits(x))
    assert torch.equal(model.code_logits(x), model.encoder[-1].mean(model.encoder[:-1](x)))


@pytest.mark.parametrize("name", ["ae", "sparse-ae", "contractive-ae", "vae"])
def test_mlp_families_train_and_round_trip(name, tmp_path):
    torch.set_num_threads(1)
    images, labels = synthetic(n_per_class=40)
    torch.manual_seed(0)
    model = build_model(family_config(name, bits=16))
    info = train(model, images, TrainConfig(epochs=3, batch_size=32), torch.device("cpu"))
    assert np.isfinite(info["final"]["loss"])
    encoder = HashEncoder(model)
    encoder.fit_thresholds(encoder.real(images))
    codes = encoder.encode(images)
    assert len({c.tobytes() for c in codes}) >= 3
    encoder.save(tmp_path / "m.pt")
    back = HashEncoder.load(tmp_path / "m.pt")
    assert back.config.model_type == name and back.config == encoder.config
    assert np.array_equal(back.encode(images), codes)
