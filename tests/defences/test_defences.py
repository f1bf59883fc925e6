"""Defences on tiny models: loss/score formulas, calibration, the prediction rule, save/load."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.stats import entropy

from robustcheck.data import load_dataset
from robustcheck.defences import DEFENCES, BaseDefence, DefenceProtocol, FitContext
from robustcheck.defences.kl_autoencoder import kl_divergence
from robustcheck.errors import ConfigError


def test_kl_divergence_matches_scipy():
    g = torch.Generator().manual_seed(0)
    p, q = torch.randn(5, 10, generator=g), torch.randn(5, 10, generator=g)
    ours = kl_divergence(p, q).numpy()
    ref = [entropy(torch.softmax(p[i], 0).numpy(), torch.softmax(q[i], 0).numpy()) for i in range(5)]
    assert np.allclose(ours, ref, atol=1e-6)
    assert torch.allclose(kl_divergence(p, p), torch.zeros(5), atol=1e-6)


@pytest.mark.parametrize("name", DEFENCES.list())
def test_defence_contract(name, tiny, tmp_path):
    model, x, y = tiny
    d = DEFENCES.get(name)().bind(model)
    assert isinstance(d, DefenceProtocol)
    data = load_dataset("mnist-embedded")
    if d.trainable:
        d.fit(
            FitContext(
                model, data.train.subset(300), data.val, 10, epochs=1, seed=0, device=torch.device("cpu")
            )
        )
    d.eval()
    t = d.calibrate(data.val.x, 0.1)
    pred = d.predict(x)
    assert pred.shape == y.shape and pred.dtype == torch.long
    if d.is_detector:
        s = d.score(data.val.x)
        assert s.shape == (len(data.val),) and torch.isfinite(s).all()
        assert (s > t).float().mean() <= 0.1
    # save -> load (weights-only, the safe torch format the cache uses) gives identical outputs
    path = tmp_path / f"{name}.pt"
    torch.save(d.state_dict(), path)
    again = DEFENCES.get(name)().bind(model)
    again.load_state_dict(torch.load(path, weights_only=True))
    again.eval()
    assert again.calibrate(data.val.x, 0.1) == t
    torch.manual_seed(0)
    p1 = d.predict(x[:32])
    torch.manual_seed(0)
    assert torch.equal(again.predict(x[:32]), p1)
    if d.is_detector:
        torch.manual_seed(0)
        s1 = d.score(x[:32])
        torch.manual_seed(0)
        assert torch.equal(again.score(x[:32]), s1)
    # white-box target is differentiable end to end
    xg = x[:4].clone().requires_grad_(True)
    d.attack_model()(xg).sum().backward()
    assert xg.grad is not None and torch.isfinite(xg.grad).all()


def test_prediction_rule_detector_plus_corrector(tiny):
    model, x, _y = tiny
    d = DEFENCES.get("ae-kl")().bind(model).eval()
    d.calibrate(x, 0.2)
    flagged = d.flagged(x)
    assert 0 < flagged.sum() < len(x)
    with torch.no_grad():
        expect = torch.where(flagged, model(d.purify(x)).argmax(1), model(x).argmax(1))
        assert torch.equal(d.predict(x), expect)


def test_kl_training_reduces_loss_and_save_load_roundtrip(tiny, tmp_path):
    model, x, _y = tiny
    data = load_dataset("mnist-embedded")
    d = DEFENCES.get("ae-kl")().bind(model)
    with torch.no_grad():
        before = d.training_loss(x).item()
    d.fit(
        FitContext(model, data.train.subset(500), data.val, 10, epochs=2, seed=0, device=torch.device("cpu"))
    )
    with torch.no_grad():
        after = d.training_loss(x).item()
    assert after < before
    d.calibrate(data.val.x, 0.05)
    torch.save(d.state_dict(), tmp_path / "d.pt")
    d2 = DEFENCES.get("ae-kl")().bind(model)
    d2.load_state_dict(torch.load(tmp_path / "d.pt", weights_only=True))
    d2.eval()
    with torch.no_grad():
        assert torch.equal(d.score(x), d2.score(x))
    assert d2.threshold == d.threshold


def test_mse_variant_trains_on_reconstruction(tiny):
    model, x, _ = tiny
    d = DEFENCES.get("ae-mse")().bind(model)
    with torch.no_grad():
        assert d.training_loss(x).item() == pytest.approx(torch.mean((d.ae(x) - x) ** 2).item())


def test_bad_parameters_and_unbound():
    with pytest.raises(ConfigError, match="latent_dim"):
        DEFENCES.get("ae-kl")(latent_dim=0)
    d = DEFENCES.get("none")()
    with pytest.raises(Exception, match="not bound"):
        d.predict(torch.zeros(1, 1, 28, 28))
    assert isinstance(d, BaseDefence)
