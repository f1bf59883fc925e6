"""``early_stop``: an iterative attack stops stepping an example once an iterate fooled the model (the
unbounded-PGD probe uses it). Same success set as the full run, fewer gradient passes."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from robustcheck.attacks import build_attack
from robustcheck.errors import ConfigError


class Rows(nn.Module):
    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model, self.rows = model, 0

    def forward(self, x):
        self.rows += x.shape[0]
        return self.model(x)


@pytest.mark.parametrize(
    ("name", "eps"), [("pgd-linf", 0.1), ("pgd-linf", 1.0), ("pgd-l2", 2.0), ("bim-linf", 0.15)]
)
def test_early_stop_same_successes_fewer_passes(name, eps, tiny):
    model, x, y = tiny
    full, early = Rows(model), Rows(model)
    params = {"steps": 20, "random_start": False}
    [r_full] = build_attack(name, params, seed=0, batch_size=100)(full, x, y, [eps])
    [r_early] = build_attack(name, {**params, "early_stop": True}, seed=0, batch_size=100)(early, x, y, [eps])
    assert torch.equal(r_full.success, r_early.success)
    assert r_early.success.float().mean() > 0 and early.rows < full.rows
    assert (r_early.x_adv - x).flatten(1).abs().amax(1).max() <= eps + 1e-6 or name == "pgd-l2"


def test_early_stop_must_be_a_bool():
    with pytest.raises(ConfigError, match="early_stop"):
        build_attack("pgd-linf", {"early_stop": "yes"}, seed=0, batch_size=8)
