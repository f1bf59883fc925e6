"""FGSM — Fast Gradient Sign Method (Goodfellow et al. 2015), L∞.

x' = clip(x + ε · sign(∇ₓ L(C(x), y)), 0, 1); targeted: x' = clip(x − ε · sign(∇ₓ L(C(x), t)), 0, 1)
(002 eq 2, with target labels so no label leaking).

Threat model: whatever model it is given (classifier for grey-box, C∘defence for white-box).

Example:
    >>> attack = FGSM()
    >>> [res] = attack(model, x, y, eps=[0.1])   # doctest: +SKIP
"""

from __future__ import annotations

from torch import Tensor, nn
from torch.nn import functional as F

from robustcheck.attacks.base import BaseAttack
from robustcheck.attacks.gradients import loss_gradient
from robustcheck.attacks.iterative import ascent_direction, better_of
from robustcheck.attacks.registry import ATTACKS
from robustcheck.norms import Norm


@ATTACKS.register("fgsm")
class FGSM(BaseAttack):
    norm = Norm.LINF
    name = "fgsm"
    single_step = True

    def __init__(self, *, targeted: bool = False, seed: int = 0, batch_size: int = 250) -> None:
        super().__init__(targeted=targeted, seed=seed, batch_size=batch_size)

    def run(self, model: nn.Module, x: Tensor, y: Tensor, eps: float | None, target: Tensor | None) -> Tensor:
        assert eps is not None
        labels = target if self.targeted and target is not None else y
        grad, logits = loss_gradient(
            model, x, lambda z: F.cross_entropy(z, labels, reduction="sum")
        )  # EOT-aware
        x_adv = (x + self.loss_sign() * eps * ascent_direction(grad, self.norm)).clamp(0, 1)
        return better_of(model, x, logits, x_adv, y, target if self.targeted else None)
