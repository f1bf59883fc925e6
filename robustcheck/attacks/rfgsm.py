"""R-FGSM — FGSM with a random step first (Tramèr et al. 2018, "Ensemble adversarial training", eq 7).

x̃ = x + α · sign(N(0, I)),   x' = clip(x̃ + (ε − α) · sign(∇ₓ̃ L(C(x̃), y)), 0, 1).

The random step escapes the gradient masking near data points that a single FGSM step suffers from;
the total L∞ perturbation is at most α + (ε − α) = ε. Targeted: the gradient step descends the loss of
the target label (002 eq 2).

Args:
    alpha: size of the random step; default ε / 2 (Tramèr et al.). Must be ≤ ε.

Example:
    >>> [res] = RFGSM()(model, x, y, eps=[0.3])   # doctest: +SKIP
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from robustcheck.attacks.base import BaseAttack
from robustcheck.attacks.gradients import loss_gradient
from robustcheck.attacks.iterative import better_of
from robustcheck.attacks.registry import ATTACKS
from robustcheck.errors import ConfigError
from robustcheck.norms import Norm


@ATTACKS.register("r-fgsm")
class RFGSM(BaseAttack):
    norm = Norm.LINF
    name = "r-fgsm"
    single_step = True

    def __init__(
        self, *, alpha: float | None = None, targeted: bool = False, seed: int = 0, batch_size: int = 250
    ) -> None:
        super().__init__(targeted=targeted, seed=seed, batch_size=batch_size)
        if alpha is not None and (
            isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or alpha < 0
        ):
            raise ConfigError(f"attack 'r-fgsm': alpha must be a number >= 0, got {alpha!r}")
        self.alpha = alpha

    def run(self, model: nn.Module, x: Tensor, y: Tensor, eps: float | None, target: Tensor | None) -> Tensor:
        assert eps is not None
        alpha = eps / 2 if self.alpha is None else float(self.alpha)
        if alpha > eps:
            raise ConfigError(
                f"attack 'r-fgsm': alpha={alpha:g} exceeds eps={eps:g}; the random step must fit in ε"
            )
        x_rand = (x + alpha * torch.randn(x.shape, dtype=x.dtype).to(x.device).sign()).clamp(0, 1)  # CPU draw
        labels = target if self.targeted and target is not None else y
        grad, logits = loss_gradient(
            model, x_rand, lambda z: F.cross_entropy(z, labels, reduction="sum")
        )  # EOT-aware
        x_adv = x_rand + self.loss_sign() * (eps - alpha) * grad.sign()
        x_adv = torch.min(torch.max(x_adv, x - eps), x + eps).clamp(0, 1)
        return better_of(model, x_rand, logits, x_adv, y, target if self.targeted else None)
