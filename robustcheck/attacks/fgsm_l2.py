"""FGM-L2 — the L2 fast gradient method (Goodfellow et al. 2015; Miyato et al. 2016).

x' = clip(x + ε · g / ‖g‖₂, 0, 1) with g = ∇ₓ L(C(x), y); targeted: x' = clip(x − ε · g_t / ‖g_t‖₂, 0, 1)
with the gradient of the loss of the target label (002 eq 2 in L2). Clipping to [0, 1] only shrinks the
perturbation, so the output stays in the L2 ε-ball.

Example:
    >>> [res] = FGSML2()(model, x, y, eps=[1.5])   # doctest: +SKIP
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from robustcheck.attacks.base import BaseAttack
from robustcheck.attacks.iterative import ascent_direction
from robustcheck.attacks.registry import ATTACKS


@ATTACKS.register("fgsm-l2")
class FGSML2(BaseAttack):
    norm = "l2"
    name = "fgsm-l2"

    def __init__(self, *, targeted: bool = False, seed: int = 0, batch_size: int = 250) -> None:
        super().__init__(targeted=targeted, seed=seed, batch_size=batch_size)

    def run(self, model: nn.Module, x: Tensor, y: Tensor, eps: float | None, target: Tensor | None) -> Tensor:
        assert eps is not None
        x_req = x.clone().requires_grad_(True)
        labels = target if self.targeted and target is not None else y
        loss = F.cross_entropy(model(x_req), labels, reduction="sum")
        (grad,) = torch.autograd.grad(loss, x_req)
        return (x + self.loss_sign() * eps * ascent_direction(grad, "l2")).clamp(0, 1)
