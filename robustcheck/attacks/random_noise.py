"""Uniform random noise in the L∞ ε-box (004 §1.3.1, eq 1.1): x' = clip(x + U(−ε, ε), 0, 1).

Not an attack but the baseline every detector must not confuse with one (004 §6.3: AUC ≈ 0.5 on
random noise): a defence that flags random noise as adversarial, or a classifier that breaks under
it, is reported against this baseline. It uses no gradient and no label; it has no targeted variant.
The noise is drawn from the generator the base class seeds, so a run is reproducible.

Example:
    >>> [res] = RandomNoise()(model, x, y, eps=[0.3])   # doctest: +SKIP
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from robustcheck.attacks.base import BaseAttack
from robustcheck.attacks.registry import ATTACKS
from robustcheck.norms import Norm


@ATTACKS.register("random-noise")
class RandomNoise(BaseAttack):
    norm = Norm.LINF
    name = "random-noise"
    supports_targeted = False  # noise aims at no class
    gradient_free = True
    noise = True

    def __init__(self, *, targeted: bool = False, seed: int = 0, batch_size: int = 250) -> None:
        super().__init__(targeted=targeted, seed=seed, batch_size=batch_size)

    def run(self, model: nn.Module, x: Tensor, y: Tensor, eps: float | None, target: Tensor | None) -> Tensor:
        assert eps is not None
        delta = (torch.rand(x.shape, dtype=x.dtype) * 2 - 1).to(x.device) * eps  # the base seeds the RNG
        return (x + delta).clamp(0, 1)
