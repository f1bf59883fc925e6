"""Combined-logit attack on a detector (Carlini & Wagner 2017, "Adversarial Examples Are Not Easily
Detected", §3), L∞ PGD on the CW margin of the combined model.

The detector is folded into the classifier as an extra class K+1:

    G(x)_i = Z(x)_i (i ≤ K),    G(x)_{K+1} = max_j Z(x)_j + κ · (S(x) − t)

so class K+1 wins exactly when S(x) > t (the input is flagged). The attack maximises the CW margin
max_{j ∉ {y, K+1}} G_j − max(G_y, G_{K+1}) (targeted: G_t − max_{j ≠ t} G_j), which is positive exactly
when x′ is misclassified and not flagged — the detector-aware success criterion.

Args:
    kappa: scale of the detector logit (in logits per unit of score).
    steps, alpha, restarts: as in :class:`~robustcheck.attacks.adaptive_base.AdaptiveAttack`.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from robustcheck.attacks.adaptive_base import AdaptiveAttack
from robustcheck.attacks.base import margin
from robustcheck.attacks.registry import ATTACKS
from robustcheck.attacks.targets import AdaptiveTarget
from robustcheck.errors import ConfigError


def combined_logits(logits: Tensor, score: Tensor | None, threshold: float | None, kappa: float) -> Tensor:
    """G(x): the K class logits and the detector logit max_j Z_j + κ (S − t) as column K."""
    if score is None or threshold is None:
        extra = logits.amin(1) - 1e3  # no detector: the extra class never wins
    else:
        extra = logits.amax(1) + kappa * (score - threshold)
    return torch.cat([logits, extra.view(-1, 1)], 1)


@ATTACKS.register("cw-detector")
class CWDetector(AdaptiveAttack):
    name = "cw-detector"

    def __init__(
        self,
        *,
        kappa: float = 10.0,
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
        if (
            isinstance(kappa, bool)
            or not isinstance(kappa, (int, float))
            or not (math.isfinite(kappa) and kappa > 0)
        ):
            raise ConfigError(f"attack {self.name!r}: kappa must be a positive number, got {kappa!r}")
        self.kappa = float(kappa)

    def objective(
        self, target: AdaptiveTarget, x: Tensor, y: Tensor, tgt: Tensor | None
    ) -> tuple[Tensor, Tensor, Tensor]:
        logits, score, _ = target.parts(x)
        g = combined_logits(logits, score, target.threshold, self.kappa)
        if tgt is not None:
            obj = -margin(g, tgt)
        else:
            reject = torch.full_like(y, g.shape[1] - 1)
            others = g.clone()
            others.scatter_(1, y.view(-1, 1), -math.inf)
            others[:, -1] = -math.inf
            obj = others.amax(1) - torch.maximum(
                g.gather(1, y.view(-1, 1)).squeeze(1), g.gather(1, reject.view(-1, 1)).squeeze(1)
            )
        return obj, logits, (score if score is not None else torch.zeros_like(obj))
