"""One BPDA (defences.base.straight_through), one forward-hook tap (models.taps), one atomic publish
(safefiles.publish_temp): their behaviour, and that the defences and the history use them."""

from __future__ import annotations

import inspect
import os
from pathlib import Path

import pytest
import torch
from torch import nn

from robustcheck import history, safefiles
from robustcheck.defences import vae_purification
from robustcheck.defences.base import BaseDefence, straight_through
from robustcheck.defences.kl_autoencoder import LayerTap
from robustcheck.defences.perceptual_dae import FeatureTaps
from robustcheck.defences.vae_purification import VAEPurifier
from robustcheck.errors import ConfigError
from robustcheck.models.taps import check_layers, forward_with_taps, tapped


# ---------------------------------------------------------------------------- BPDA
def test_straight_through_has_the_forward_value_and_the_surrogate_gradient():
    x = torch.linspace(-1, 1, 9, requires_grad=True)
    forward_value = (x * 4).round().detach() / 4  # not differentiable
    out = straight_through(forward_value, x.pow(3))
    assert torch.equal(out, forward_value)
    (g,) = torch.autograd.grad(out.sum(), x)
    assert torch.allclose(g, 3 * x.detach().pow(2))


def test_vae_purifier_uses_the_base_bpda_identity_gradient():
    """C(purify(x)) forward, ∂/∂x = ∇C at the purified point (identity through the optimisation)."""
    assert VAEPurifier.differentiable is False
    assert VAEPurifier.attack_purify is BaseDefence.attack_purify
    assert VAEPurifier.bpda_surrogate is BaseDefence.bpda_surrogate
    assert (
        not [  # no straight-through of its own
            c
            for _, c in inspect.getmembers(vae_purification, inspect.isclass)
            if issubclass(c, torch.autograd.Function)
        ]
    )
    torch.manual_seed(0)
    clf = nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, 10)).eval()
    d = VAEPurifier(variant="E", iterations=3, zdim=8).bind(clf).eval()
    x = torch.rand(3, 1, 28, 28)
    xg = x.clone().requires_grad_(True)
    logits = d.attack_model()(xg)
    logits[:, 0].sum().backward()
    xp = d.purify(x).requires_grad_(True)
    expect = clf(xp)
    expect[:, 0].sum().backward()
    assert torch.allclose(logits, expect, atol=1e-5)
    assert xg.grad is not None and torch.allclose(xg.grad, xp.grad)


# ---------------------------------------------------------------------------- taps
def _net() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 5), nn.ReLU(), nn.Linear(5, 3))


def test_forward_with_taps_returns_the_layer_outputs_and_removes_its_hooks():
    net, x = _net(), torch.randn(2, 4)
    y, (h0, h1) = forward_with_taps(net, x, ["0", "1"])
    assert torch.equal(h0, net[0](x)) and torch.equal(h1, net[1](net[0](x))) and torch.equal(y, net(x))
    assert not any(m._forward_hooks for m in net.modules())
    xg = x.clone().requires_grad_(True)
    _, (h,) = forward_with_taps(net, xg, ["1"])
    h.sum().backward()  # the tapped output is part of the graph
    assert xg.grad is not None and xg.grad.abs().sum() > 0


def test_tapped_removes_its_hooks_when_the_forward_pass_fails():
    net = _net()
    with pytest.raises(RuntimeError), tapped(net, ["2"]):
        net(torch.randn(2, 7))  # wrong width
    assert not any(m._forward_hooks for m in net.modules())


class _Skips(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.used, self.unused = nn.Linear(4, 3), nn.Linear(3, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.used(x)


def test_unknown_or_silent_layers_are_config_errors():
    with pytest.raises(
        ConfigError, match=r"the net has no layer\(s\) 'conv9': not a submodule.*known: 0, 1, 2"
    ):
        check_layers(_net(), ["0", "conv9"], "the net")
    with pytest.raises(ConfigError, match=r"'unused' of _Skips did not run"):
        forward_with_taps(_Skips(), torch.randn(1, 4), ["used", "unused"])


def test_defence_taps_use_the_shared_helper():
    net, x = _net(), torch.randn(2, 4)
    logits, feat = LayerTap(net, "1")(x)
    assert torch.equal(logits, net(x)) and torch.equal(feat, net[1](net[0](x)))
    [f] = FeatureTaps(net, ["0"])(x)
    assert torch.equal(f, net[0](x))
    with pytest.raises(ConfigError, match="not a submodule"):
        LayerTap(net, "5")
    with pytest.raises(ConfigError, match="no layer"):
        FeatureTaps(net, ["5"])


# ---------------------------------------------------------------------------- atomic publish
def _temp(folder: Path, text: str) -> str:
    return safefiles.write_temp(folder, "x.json", lambda fh: fh.write(text.encode()))


def test_publish_temp_renames_or_links_without_overwriting(tmp_path):
    target = tmp_path / "a.json"
    safefiles.publish_temp(_temp(tmp_path, "1"), target)
    safefiles.publish_temp(_temp(tmp_path, "2"), target)  # a rename replaces
    assert target.read_text() == "2"
    tmp = _temp(tmp_path, "3")
    with pytest.raises(FileExistsError):  # a link never does
        safefiles.publish_temp(tmp, target, exclusive=True)
    assert target.read_text() == "2" and Path(tmp).exists()
    safefiles.publish_temp(tmp, tmp_path / "b.json", exclusive=True)
    assert (tmp_path / "b.json").read_text() == "3"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "b.json"]  # temps consumed


def test_publish_temp_falls_back_to_a_rename_without_hard_links(tmp_path, monkeypatch):
    def no_links(src, dst):
        raise PermissionError("no hard links here")

    monkeypatch.setattr(os, "link", no_links)
    safefiles.publish_temp(_temp(tmp_path, "1"), tmp_path / "a.json", exclusive=True)
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]


def test_save_run_publishes_through_safefiles(tmp_path, monkeypatch):
    calls: list[tuple[str, bool]] = []
    real = safefiles.publish_temp

    def spy(tmp, path, *, exclusive=False):
        calls.append((Path(path).suffix, exclusive))
        real(tmp, path, exclusive=exclusive)

    monkeypatch.setattr(safefiles, "publish_temp", spy)
    path = history.save_run(tmp_path, {"suites": {}}, {"s/c/clean": [0.5, 0.25]})
    assert calls == [(".json", True), (".npz", False)]
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name, path.with_suffix(".npz").name]
    assert history.load_scores(path)["s/c/clean"].tolist() == [0.5, 0.25]
