"""perceptual-dae's issue-19 options ``output`` and ``clean_inputs`` (defaults keep 002's network, key)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from robustcheck.data import load_dataset
from robustcheck.defences import DEFENCES, FitContext
from robustcheck.errors import ConfigError
from tests.helpers import trained_tiny


def test_defaults_keep_the_002_network_and_its_config():
    d = DEFENCES.get("perceptual-dae")()
    assert isinstance(d.ae[-1], nn.Tanh)
    assert "output" not in d.config() and "clean_inputs" not in d.config()


def test_sigmoid_output_and_bad_values():
    d = DEFENCES.get("perceptual-dae")(output="sigmoid")
    assert isinstance(d.ae[-1], nn.Sigmoid) and d.config()["output"] == "sigmoid"
    out = d.purify(torch.rand(2, 1, 28, 28))
    assert out.shape == (2, 1, 28, 28) and out.min() >= 0 and out.max() <= 1
    with pytest.raises(ConfigError, match="output"):
        DEFENCES.get("perceptual-dae")(output="relu")
    with pytest.raises(ConfigError, match="clean_inputs"):
        DEFENCES.get("perceptual-dae")(clean_inputs=1)


def test_clean_inputs_add_identity_pairs():
    model, _, _ = trained_tiny(n=200, epochs=1)
    data = load_dataset("mnist-embedded")
    ctx = FitContext(model, data.train.subset(32), data.val, 10, epochs=1, seed=0, device=torch.device("cpu"))
    d = DEFENCES.get("perceptual-dae")(pgd_steps=2, clean_inputs=True).bind(model)
    x_in, x_target = d.adversarial_training_set(ctx)
    assert x_in.shape == (96, 1, 28, 28) and d.config()["clean_inputs"] is True
    assert torch.equal(x_in[64:], data.train.x[:32]) and torch.equal(x_target[64:], data.train.x[:32])


def test_code_channels_widen_the_code_and_bad_values():
    assert "code_channels" not in DEFENCES.get("perceptual-dae")().config()
    d = DEFENCES.get("perceptual-dae")(code_channels=32)
    assert d.config()["code_channels"] == 32
    code = d.ae[:6](torch.rand(2, 1, 28, 28))  # conv, relu, pool, conv, relu, pool: the 2×2 code
    assert code.shape == (2, 32, 2, 2) and d.purify(torch.rand(2, 1, 28, 28)).shape == (2, 1, 28, 28)
    d.build((3, 16, 16), 10)  # the generic autoencoder's code scales with code_channels
    linears = [m for m in d.ae.modules() if isinstance(m, nn.Linear)]
    assert linears[0].out_features == 256
    for bad in (0, 2.5, True):
        with pytest.raises(ConfigError, match="code_channels"):
            DEFENCES.get("perceptual-dae")(code_channels=bad)
    with pytest.raises(ConfigError, match="code_channels"):
        DEFENCES.get("perceptual-dae")(architecture=lambda shape: nn.Identity(), code_channels=16)


def test_generic_architecture_on_mnist_shape():
    d = DEFENCES.get("perceptual-dae")(architecture="generic", code_channels=32)
    assert any(isinstance(m, nn.Linear) for m in d.ae.modules())  # not the 002 network (convs only)
    assert d.config()["architecture"] == "generic" and "input_shape" not in d.config()
    assert d.purify(torch.rand(3, 1, 28, 28)).shape == (3, 1, 28, 28)
    d.build((1, 28, 28), 10)
    assert d.built_architecture == "generic"
    assert DEFENCES.get("perceptual-dae")().built_architecture == "mnist"
