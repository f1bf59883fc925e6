"""Carlini–Wagner with an L∞ budget, projected onto the ε-box every step (003 §3).

    min_δ ‖δ‖∞ + c · f(x + δ),   f = max(z_y − max_{j≠y} z_j, −κ)   (targeted: max(max_{j≠t} z_j − z_t, −κ)),

minimised with Adam on δ; after each step δ is projected onto the L∞ ε-box centred at zero and x + δ
onto [0, 1] (003 §3: "at each iteration of gradient descent, we project the current perturbation on the
L∞ ε-box"). 003 §5 runs 100 iterations, learning rate 0.1, c = 1, κ = 0 — the defaults here. The margin
masks the true class with −∞, so it is right for negative logits. Fixed-ε: run once per ε. Returned per
example: the successful iterate of smallest L∞ norm, else the iterate of highest margin.

Args:
    steps: Adam iterations (003: 100).
    lr: Adam learning rate (003: 0.1).
    const: c, weight of the margin loss (003: 1).
    confidence: κ ≥ 0 (003: 0).

Example:
    >>> [res] = CWLinf()(model, x, y, eps=[0.1, 0.2])   # doctest: +SKIP
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from robustcheck.attacks.base import BaseAttack, check_positive
from robustcheck.attacks.iterative import objective
from robustcheck.attacks.registry import ATTACKS
from robustcheck.norms import Norm


@ATTACKS.register("cw-linf")
class CWLinf(BaseAttack):
    norm = Norm.LINF
    name = "cw-linf"

    def __init__(
        self,
        *,
        steps: int = 100,
        lr: float = 0.1,
        const: float = 1.0,
        confidence: float = 0.0,
        targeted: bool = False,
        seed: int = 0,
        batch_size: int = 250,
    ) -> None:
        super().__init__(targeted=targeted, seed=seed, batch_size=batch_size)
        check_positive("attack 'cw-linf': steps", steps, integer=True)
        check_positive("attack 'cw-linf': lr", lr)
        check_positive("attack 'cw-linf': const", const)
        check_positive("attack 'cw-linf': confidence", confidence, allow_zero=True)
        self.steps, self.lr, self.const, self.confidence = steps, float(lr), float(const), float(confidence)

    def run(self, model: nn.Module, x: Tensor, y: Tensor, eps: float | None, target: Tensor | None) -> Tensor:
        assert eps is not None
        tgt = target if self.targeted else None
        delta = torch.zeros_like(x, requires_grad=True)
        opt = torch.optim.Adam([delta], lr=self.lr)
        best_x = x.clone()
        best_succ = torch.zeros(x.shape[0], dtype=torch.bool, device=x.device)
        best_linf = torch.full((x.shape[0],), float("inf"), device=x.device, dtype=x.dtype)
        best_adv = torch.full_like(best_linf, -float("inf"))
        for it in range(self.steps + 1):
            x_adv = x + delta
            logits = model(x_adv)
            adv = objective(logits, y, tgt)
            linf = delta.detach().flatten(1).abs().amax(1)
            with torch.no_grad():
                succ = adv > self.confidence if self.confidence > 0 else adv > 0
                better = (succ & (~best_succ | (linf < best_linf))) | (~succ & ~best_succ & (adv > best_adv))
                best_x[better] = x_adv.detach()[better]
                best_succ |= succ
                best_linf = torch.where(better, linf, best_linf)
                best_adv = torch.where(better, adv, best_adv)
            if it == self.steps:
                break
            loss = delta.flatten(1).abs().amax(1) + self.const * (-adv).clamp_min(-self.confidence)
            opt.zero_grad(set_to_none=True)
            loss.sum().backward()
            opt.step()
            with torch.no_grad():
                delta.copy_((x + delta.clamp(-eps, eps)).clamp(0, 1) - x)
        return best_x
