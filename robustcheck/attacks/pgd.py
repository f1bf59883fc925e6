"""PGD — Projected Gradient Descent (Madry et al. 2018), L∞, with random start and restarts.

Each step: x ← Π_{B∞(x₀, ε) ∩ [0,1]}(x + α · sign(∇ₓ L)). Returns, per example, the best iterate over
steps and restarts (highest margin max_{j≠y} z_j − z_y, or lowest distance to the target logit when
targeted) — never just the last one, so an iterate that fooled the model is never lost.

Args:
    steps: iterations (default 40).
    alpha: step size; default 2.5 · ε / steps.
    random_start: start uniformly in the ε-ball (default True).
    restarts: independent random starts (default 1).

Example:
    >>> [res] = PGDLinf(steps=40)(model, x, y, eps=[0.1])   # doctest: +SKIP
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from robustcheck.attacks.base import BaseAttack, margin
from robustcheck.attacks.registry import ATTACKS
from robustcheck.errors import ConfigError


@ATTACKS.register("pgd-linf")
class PGDLinf(BaseAttack):
    norm = "linf"
    name = "pgd-linf"

    def __init__(
        self,
        *,
        steps: int = 40,
        alpha: float | None = None,
        random_start: bool = True,
        restarts: int = 1,
        targeted: bool = False,
        seed: int = 0,
        batch_size: int = 250,
    ) -> None:
        super().__init__(targeted=targeted, seed=seed, batch_size=batch_size)
        if not isinstance(steps, int) or steps <= 0:
            raise ConfigError(f"attack 'pgd-linf': steps must be a positive int, got {steps!r}")
        if alpha is not None and not alpha > 0:
            raise ConfigError(f"attack 'pgd-linf': alpha must be > 0, got {alpha!r}")
        if not isinstance(restarts, int) or restarts <= 0:
            raise ConfigError(f"attack 'pgd-linf': restarts must be a positive int, got {restarts!r}")
        self.steps, self.alpha, self.random_start, self.restarts = steps, alpha, bool(random_start), restarts

    def _objective(self, logits: Tensor, y: Tensor, target: Tensor | None) -> Tensor:
        """Per-example objective to maximise; > 0 means the attack succeeded."""
        if self.targeted and target is not None:
            return -margin(logits, target)  # > 0 once the target logit is the largest
        return margin(logits, y)

    def run(self, model: nn.Module, x: Tensor, y: Tensor, eps: float | None, target: Tensor | None) -> Tensor:
        assert eps is not None
        alpha = self.alpha if self.alpha is not None else 2.5 * eps / self.steps
        labels = target if self.targeted and target is not None else y
        best_x = x.clone()
        with torch.no_grad():
            best_obj = self._objective(model(x), y, target)
        for _ in range(self.restarts):
            x_adv = x.clone()
            if self.random_start and eps > 0:
                x_adv = (x_adv + torch.empty_like(x).uniform_(-eps, eps)).clamp(0, 1)
            for _ in range(self.steps):
                x_adv.requires_grad_(True)
                logits = model(x_adv)
                loss = F.cross_entropy(logits, labels, reduction="sum")
                (grad,) = torch.autograd.grad(loss, x_adv)
                with torch.no_grad():
                    obj = self._objective(logits, y, target)
                    better = obj > best_obj
                    best_x[better] = x_adv.detach()[better]
                    best_obj = torch.where(better, obj, best_obj)
                    x_adv = x_adv.detach() + self.loss_sign() * alpha * grad.sign()
                    x_adv = torch.min(torch.max(x_adv, x - eps), x + eps).clamp(0, 1)
            with torch.no_grad():
                obj = self._objective(model(x_adv), y, target)
                better = obj > best_obj
                best_x[better] = x_adv[better]
                best_obj = torch.where(better, obj, best_obj)
        return best_x
