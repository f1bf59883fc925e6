"""perceptual-dae (002): eq 4 by hand, the training set, the independent loss network, save/load."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from robustcheck.data import load_dataset
from robustcheck.defences import DEFENCES, FitContext
from robustcheck.defences.perceptual_dae import FeatureTaps, perceptual_loss
from robustcheck.errors import ConfigError
from tests.helpers import trained_tiny


def test_eq4_hand_computed():
    net = nn.Sequential(nn.Flatten(), nn.Linear(784, 2))
    with torch.no_grad():
        net[1].weight.zero_()
        net[1].bias.fill_(0.3)
        net[1].weight[0] = 1.0 / 784  # feature 0 = mean pixel
    taps = FeatureTaps(net, ["1"])
    clean, denoised = torch.zeros(2, 1, 28, 28), torch.full((2, 1, 28, 28), 0.5)
    # pixels: (0.5)² averaged = 0.25 (δ = 1/784 per pixel); features: ((0.5)² + 0) / 2 = 0.125 (w = 1/2)
    assert perceptual_loss(taps, clean, denoised).item() == pytest.approx(0.375)
    with pytest.raises(ConfigError, match="no layer"):
        FeatureTaps(net, ["conv9"])


def test_fit_uses_adversarial_pairs_and_an_independent_loss_net(tmp_path):
    model, x, _ = trained_tiny(n=200, epochs=1)
    data = load_dataset("mnist-embedded")
    ctx = FitContext(model, data.train.subset(96), data.val, 10, epochs=1, seed=0, device=torch.device("cpu"))
    kw = {"pgd_steps": 3, "loss_net_epochs": 1}
    d = DEFENCES.get("perceptual-dae")(**kw).bind(model)
    x_adv, x_clean = d.adversarial_training_set(ctx)
    assert x_adv.shape == (192, 1, 28, 28) and torch.equal(x_clean[:96], data.train.x[:96])
    assert (x_adv - x_clean).abs().amax() <= 0.2 + 1e-6 and (x_adv != x_clean).any()
    taps = d.build_loss_network(ctx)
    assert all(p is not q for p in taps.net.parameters() for q in model.parameters())
    assert [f.shape[1:] for f in taps(x[:2])] == [(64, 28, 28), (32, 14, 14), (256,)]
    d.fit(ctx)
    d2 = DEFENCES.get("perceptual-dae")(**kw).bind(model)
    torch.save(d.state_dict(), tmp_path / "p.pt")
    d2.load_state_dict(torch.load(tmp_path / "p.pt", weights_only=True))
    with torch.no_grad():
        assert torch.equal(d.purify(x), d2.eval().purify(x))
        assert torch.equal(d.predict(x), model(d.purify(x)).argmax(1))


def test_vgg_needs_a_local_file():
    with pytest.raises(ConfigError, match="never downloaded"):
        DEFENCES.get("perceptual-dae")(loss_net="/nonexistent/vgg16.pth")
