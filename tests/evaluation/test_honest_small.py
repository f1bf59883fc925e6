"""Small honest-number fixes of issue 12 item 13 (each test fails on the code before the fix)."""

from __future__ import annotations

import math

import torch
from torch import nn

from robustcheck import metrics as M
from robustcheck.attacks import build_attack
from robustcheck.attacks.cw_l2 import still_decreasing
from robustcheck.errors import ModelContractError


def test_targeted_success_counts_target_hits_only():
    y = torch.tensor([0, 1, 2, 3])
    clean = y.clone()
    adv = torch.tensor([5, 7, 2, 9])  # three misclassified, one into its target
    target = torch.tensor([5, 6, 4, 4])
    assert M.attack_success_rate(clean, adv, y, target) == 0.25
    assert M.attack_success_rate(clean, adv, y) == 0.75
    assert "misclassification_rate" in M.METRICS


def test_cw_early_abort_with_negative_losses():
    # κ > 0 makes the loss negative: a loss that went *up* (−5 → −4.9996) must stop the example
    keep = still_decreasing(torch.tensor([-4.9996, -5.1, 2.0]), torch.tensor([-5.0, -5.0, math.inf]))
    assert keep.tolist() == [False, True, True]


class _NaNOffManifold(nn.Module):
    """Finite on the clean digits, NaN once an input moves away from them (as log of a negative value)."""

    def __init__(self, model: nn.Module, x: torch.Tensor) -> None:
        super().__init__()
        self.model, self.x = model, x

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        out = self.model(z)
        far = (z.flatten(1)[:, None, :] - self.x.flatten(1)[None]).abs().amax(2).amin(1) > 0.05
        return torch.where(far.view(-1, 1), torch.full_like(out, math.nan), out)


def test_nan_logits_during_an_attack_fail_loudly():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 3)).eval()
    x = torch.rand(6, 1, 4, 4)
    y = model(x).argmax(1)
    guarded = _NaNOffManifold(model, x)
    try:
        build_attack("pgd-linf", {"steps": 5}, seed=0)(guarded, x, y, [0.3])
    except ModelContractError as exc:
        assert "NaN or inf" in str(exc) and "pgd-linf" in str(exc)
    else:  # before the fix: 0 % success, adversarial accuracy = clean accuracy, the item passed
        raise AssertionError("NaN logits during the attack were accepted")
