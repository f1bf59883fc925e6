"""Random noise in the L∞ ε-box (004 eq 1.1 with a random, not adversarial, perturbation).

x' = clip(x + δ, 0, 1), δ ~ U[−ε, ε]^d, drawn from the attack's seeded generator. The reference
"attack" against which a detector must *not* fire (004 §6.3: AUC ≈ 0.5 on random noise). The model
is not used except to report success.

Example:
    >>> [res] = RandomNoise()(model, x, y, eps=[0.1])   # doctest: +SKIP
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from robustcheck.attacks.base import BaseAttack
from robustcheck.attacks.registry import ATTACKS
from robustcheck.errors import ConfigError


@ATTACKS.register("random-noise")
class RandomNoise(BaseAttack):
    norm = "linf"
    name = "random-noise"
    targetable = False  # noise aims at no class

    def __init__(self, *, targeted: bool = False, seed: int = 0, batch_size: int = 250) -> None:
        if targeted:
            raise ConfigError("attack 'random-noise' is untargeted: random noise aims at no class")
        super().__init__(targeted=targeted, seed=seed, batch_size=batch_size)

    def run(self, model: nn.Module, x: Tensor, y: Tensor, eps: float | None, target: Tensor | None) -> Tensor:
        assert eps is not None
        delta = (torch.rand(x.shape, dtype=x.dtype) * 2 - 1).to(x.device) * eps  # the base seeds the RNG
        return (x + delta).clamp(0, 1)
