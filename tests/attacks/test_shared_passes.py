"""Detector-aware objectives read the label logits, the detector score and the reconstruction through
``AdaptiveTarget.parts``: the defences that can share forward passes (KL autoencoders, MagNet) must give
the values and input gradients of the separate calls, with fewer passes."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from robustcheck.attacks import build_attack
from robustcheck.defences import DEFENCES
from robustcheck.threat import AdaptiveTarget


class Counting(nn.Module):
    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model, self.calls = model, 0

    def forward(self, x):
        self.calls += 1
        return self.model(x)


def _defence(name: str, tiny):
    model, x, _ = tiny
    torch.manual_seed(0)
    d = DEFENCES.get(name)().bind(Counting(model)).eval()
    d.calibrate(x, 0.2)
    return d


def _separate(target: AdaptiveTarget, x):
    return target(x), target.score(x), target.purify(x)


@pytest.mark.parametrize("name", ["ae-kl", "ae-mse", "magnet"])
def test_parts_equal_the_separate_calls_with_fewer_passes(name, tiny):
    _, x, _ = tiny
    d = _defence(name, tiny)
    d.ae = Counting(d.ae)
    target = AdaptiveTarget(d, d.classifier)
    xs = x[:16]

    def objective(fn):
        xr = xs.clone().requires_grad_(True)
        d.classifier.calls = d.ae.calls = 0
        logits, score, rec = fn(xr)
        obj = logits.logsumexp(1) - score + (xr - rec).pow(2).flatten(1).sum(1)
        (g,) = torch.autograd.grad(obj.sum(), xr)
        return logits.detach(), score.detach(), rec.detach(), g, d.classifier.calls + d.ae.calls

    sep = objective(lambda z: _separate(target, z))
    shared = objective(lambda z: target.parts(z, purified=True))
    for a, b in zip(sep[:4], shared[:4], strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    assert shared[4] < sep[4], f"{name}: {shared[4]} forward passes shared vs {sep[4]} separate"


def test_a_subclass_redefining_the_score_is_not_shared(tiny):
    _, x, _ = tiny
    base = _defence("ae-kl", tiny)

    class Scaled(type(base)):
        name = "ae-kl-scaled"

        def score(self, z):
            return 2 * super().score(z)

    d = Scaled().bind(base.classifier).eval()
    d.load_state_dict(base.state_dict())
    target = AdaptiveTarget(d, d.classifier)
    _, s_parts, _ = target.parts(x[:8])
    torch.testing.assert_close(s_parts, d.score(x[:8]))


@pytest.mark.parametrize("attack", ["sigma-pgd", "cw-detector", "bim-recon"])
def test_detector_aware_attacks_unchanged_by_sharing(attack, tiny):
    """The attack's x′ through shared passes equals the x′ of the same defence making the separate calls
    (the shared graph sums the gradients of C(x) before its backward pass: equal up to float rounding)."""
    from robustcheck.defences.base import BaseDefence

    _, x, y = tiny
    d = _defence("ae-kl", tiny)

    class Separate(type(d)):
        def attack_outputs(self, z, purified=False):
            return BaseDefence.attack_outputs(self, z, purified)

    sep = Separate().bind(d.classifier).eval()
    sep.load_state_dict(d.state_dict())
    a = build_attack(attack, {"steps": 10}, seed=0, batch_size=32)
    [r1] = a(AdaptiveTarget(d, d.classifier), x[:32], y[:32], [0.1])
    [r2] = a(AdaptiveTarget(sep, sep.classifier), x[:32], y[:32], [0.1])
    same = ((r1.x_adv - r2.x_adv).flatten(1).abs().amax(1) <= 1e-5).float().mean().item()
    assert same >= 0.9
    assert torch.equal(r1.success, r2.success)
