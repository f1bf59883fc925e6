"""σ-weighted detector-aware PGD (004 eq 6.6, after Carlini & Wagner 2017), L∞.

    x_{n+1} = Clip_{x, ε}{ x_n − α · sign((1 − σ) ∇ₓ L_cls(x_n, t) + σ ∇ₓ L_det(x_n)) }

with L_cls the cross-entropy towards the target t of the label an unflagged input gets, and L_det the
detector score S(x) divided by the threshold t_S (so σ weighs two losses of comparable scale; 004 uses
the CVAE reconstruction distance, i.e. that detector's score). Untargeted (``targeted=False``) ascends
the cross-entropy of the true class instead. Success: target reached (or misclassified) and S ≤ t_S.

Args:
    sigma: weight of the detector loss in [0, 1] (0: detector-oblivious PGD on the label path).
    steps, alpha, restarts: as in :class:`~robustcheck.attacks.adaptive_base.AdaptiveAttack`.

Example:
    >>> Attack("sigma-pgd", eps=0.1, sigma=0.5, targeted=True)   # doctest: +SKIP
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.nn import functional as F

from robustcheck.attacks.adaptive_base import AdaptiveAttack
from robustcheck.attacks.registry import ATTACKS
from robustcheck.attacks.targets import AdaptiveTarget
from robustcheck.errors import ConfigError


@ATTACKS.register("sigma-pgd")
class SigmaPGD(AdaptiveAttack):
    name = "sigma-pgd"

    def __init__(
        self,
        *,
        sigma: float = 0.5,
        steps: int = 40,
        alpha: float | None = None,
        restarts: int = 1,
        targeted: bool = False,
        seed: int = 0,
        batch_size: int = 250,
    ) -> None:
        super().__init__(
            steps=steps, alpha=alpha, restarts=restarts, targeted=targeted, seed=seed, batch_size=batch_size
        )
        if isinstance(sigma, bool) or not isinstance(sigma, (int, float)) or not 0 <= sigma <= 1:
            raise ConfigError(f"attack {self.name!r}: sigma must be in [0, 1], got {sigma!r}")
        self.sigma = float(sigma)

    def objective(
        self, target: AdaptiveTarget, x: Tensor, y: Tensor, tgt: Tensor | None
    ) -> tuple[Tensor, Tensor, Tensor]:
        logits, score, _ = target.parts(x)
        if tgt is not None:
            cls = -F.cross_entropy(logits, tgt, reduction="none")
        else:
            cls = F.cross_entropy(logits, y, reduction="none")
        if score is None:
            return cls, logits, torch.zeros_like(cls)
        t = target.threshold
        det = score / max(abs(t), 1e-12) if t is not None else score
        return (1 - self.sigma) * cls - self.sigma * det, logits, score
