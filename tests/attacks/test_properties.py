"""robustcheck.properties under the `ci` hypothesis profile, on tiny models; plus a deliberately failing
property run inside pytester to read its shrunk counterexample."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from torch import Tensor

from robustcheck import properties as P
from robustcheck.attacks import ATTACKS
from robustcheck.attacks.base import BaseAttack
from robustcheck.defences.base import BaseDefence
from tests.helpers import tiny_cnn, trained_tiny

CI = settings(settings.get_profile("ci"), max_examples=6)


@pytest.fixture(scope="module")
def tiny():
    model, x, y = trained_tiny(n=400, epochs=2)
    return model, x[:32], y[:32]


class MeanDetector(BaseDefence):
    name = "mean-detector"
    is_detector = True

    def score(self, x: Tensor) -> Tensor:
        return x.flatten(1).mean(1)


def _untrained():
    torch.manual_seed(0)
    return tiny_cnn().eval()


X = torch.rand(16, 1, 28, 28, generator=torch.Generator().manual_seed(0))
Y = torch.arange(16) % 10


@CI
@given(
    config=P.attack_configs(
        attacks=("sigma-pgd", "bim-recon", "cw-detector", "pgd-linf", "fgsm"), targeted=None, max_steps=4
    )
)
def test_budget_bounds_and_nan_always_hold(config):
    P.check_bounds(_untrained(), X, Y, config)


@CI
@given(config=P.attack_configs(attacks=("sigma-pgd", "cw-detector"), max_steps=4, eps=(0.05, 0.2)))
def test_adaptive_at_least_as_strong_as_oblivious(tiny, config):
    model, x, y = tiny
    d = MeanDetector().bind(model)
    d.calibrate(x, 0.1)
    adaptive, oblivious = P.check_adaptive_at_least_oblivious(d, x, y, config)
    assert 0.0 <= adaptive <= 1.0 and 0.0 <= oblivious <= 1.0


@CI
@given(config=P.attack_configs(attacks=("pgd-linf", "fgsm"), eps=(0.02, 0.15), max_steps=5))
def test_accuracy_does_not_increase_with_eps(tiny, config):
    model, x, y = tiny
    P.check_eps_monotone(model, x, y, config, larger_eps=round(config.eps * 2, 3))


@CI
@given(config=P.attack_configs(attacks=("pgd-linf", "bim-linf"), eps=(0.05, 0.2), max_steps=5))
def test_iterative_no_weaker_than_single_step(tiny, config):
    model, x, y = tiny
    P.check_iterative_vs_single_step(model, x, y, config)


def test_config_repr_rebuilds_the_config():
    cfg = P.AttackConfig("sigma-pgd", eps=0.1, sigma=0.25, steps=3, targeted=True)
    again = eval(repr(cfg), {"AttackConfig": P.AttackConfig})
    assert repr(again) == repr(cfg) and again.build().sigma == 0.25 and again.targeted


class LeakyFGSM(BaseAttack):
    """Broken on purpose: from 3 steps on it leaves the ε-ball (by 50 %)."""

    name = "leaky-fgsm"

    def __init__(
        self, *, steps: int = 1, targeted: bool = False, seed: int = 0, batch_size: int = 250
    ) -> None:
        super().__init__(targeted=targeted, seed=seed, batch_size=batch_size)
        self.steps = steps

    def run(self, model, x, y, eps, target):
        return x + (1.5 if self.steps >= 3 else 1.0) * eps


def test_failing_property_shrinks_to_minimal_config(pytester, monkeypatch):
    monkeypatch.setitem(ATTACKS._entries, "leaky-fgsm", LeakyFGSM)
    pytester.makepyfile(
        test_leaky="""
        import torch
        from hypothesis import given, settings
        from robustcheck import properties as P

        @settings(settings.get_profile("ci"), max_examples=40)
        @given(config=P.attack_configs(attacks=("leaky-fgsm",), eps=(0.05, 0.2), max_steps=8))
        def test_leaky(config):
            x = torch.full((4, 1, 28, 28), 0.5)
            model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 10))
            P.check_bounds(model, x, torch.arange(4), config)
    """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    # the failure hypothesis reports last is the shrunk example; its configuration is in *our* reproduce
    # line (hypothesis' own wording, "Falsifying example" / "Failing test case", changes between versions)
    import re

    lines = re.findall(
        r"reproduce: from robustcheck\.properties import AttackConfig; config = (AttackConfig\(.*\))", out
    )
    assert lines, out
    from robustcheck.properties import AttackConfig

    shrunk = eval(lines[-1], {"AttackConfig": AttackConfig})  # Python that rebuilds the configuration
    assert shrunk.name == "leaky-fgsm" and shrunk.params.get("steps") == 3, lines[
        -1
    ]  # smallest failing steps
    assert 0.05 <= shrunk.eps <= 0.2
    assert "property 'budget, bounds and NaN' failed" in out
