"""Shared loop of the detector-aware (adaptive) attacks.

Success in the detector-aware sense (Carlini & Wagner 2017; EVALUATION.md): x′ is misclassified (or
reaches the target) **and** not flagged (S(x′) ≤ t) **and** within the ε-ball. The loop is signed
gradient ascent on a per-example objective defined by the subclass, projected onto the L∞ ε-ball ∩
[0, 1], with restarts; it returns per example the best iterate in lexicographic order (success first,
then the objective): a successful one if any iterate succeeded, else the one with the highest objective.
On a ``stochastic`` defence (EOT) each step averages the objective's gradients over ``eot_samples``
passes that draw the defence's randomness afresh (:func:`robustcheck.attacks.gradients.eot_gradient`).

These attacks need the defence, not only a model: the engine passes a
:class:`robustcheck.threat.AdaptiveTarget` in white-box (and a defence-less one, i.e. the bare
classifier, in grey-box). Given a plain module they attack it as a defence-less classifier.
"""

from __future__ import annotations

import math
from abc import abstractmethod

import torch
from torch import Tensor, nn

from robustcheck.attacks.base import BaseAttack, check_positive
from robustcheck.attacks.gradients import eot_gradient
from robustcheck.attacks.iterative import objective, random_in_ball
from robustcheck.attacks.targets import AdaptiveTarget
from robustcheck.norms import Norm


class AdaptiveAttack(BaseAttack):
    """Base of detector-aware attacks (L∞).

    Args:
        steps: iterations per restart (capped by ``Scale.attack_steps``).
        alpha: step size; default 2.5 · ε / steps.
        restarts: starts (the first at x₀, later ones uniformly in the ε-ball).
    """

    norm = Norm.LINF
    #: The engine passes an AdaptiveTarget (defence parts) instead of a plain model.
    detector_aware = True

    def __init__(
        self,
        *,
        steps: int = 40,
        alpha: float | None = None,
        restarts: int = 1,
        targeted: bool = False,
        seed: int = 0,
        batch_size: int = 250,
    ) -> None:
        super().__init__(targeted=targeted, seed=seed, batch_size=batch_size)
        check_positive(f"attack {self.name!r}: steps", steps, integer=True)
        check_positive(f"attack {self.name!r}: restarts", restarts, integer=True)
        if alpha is not None:
            check_positive(f"attack {self.name!r}: alpha", alpha)
        self.steps, self.alpha, self.restarts = steps, alpha, restarts

    @abstractmethod
    def objective(
        self, target: AdaptiveTarget, x: Tensor, y: Tensor, tgt: Tensor | None
    ) -> tuple[Tensor, Tensor, Tensor]:
        """Return (per-example objective to maximise, logits of the unflagged label, score or zeros)."""

    @staticmethod
    def unflagged(target: nn.Module, score: Tensor) -> Tensor:
        t = getattr(target, "threshold", None)
        if t is None:
            return torch.ones_like(score, dtype=torch.bool)
        return score <= t

    def succeeded(
        self, target: nn.Module, logits: Tensor, score: Tensor, y: Tensor, tgt: Tensor | None
    ) -> Tensor:
        return (objective(logits, y, tgt) > 0) & self.unflagged(target, score)

    def run(self, model: nn.Module, x: Tensor, y: Tensor, eps: float | None, target: Tensor | None) -> Tensor:
        if not isinstance(model, AdaptiveTarget):
            model = AdaptiveTarget(None, model)  # no defence to be aware of: the bare classifier
        assert eps is not None
        alpha = self.alpha if self.alpha is not None else 2.5 * eps / self.steps
        tgt = target if self.targeted else None
        # EOT over a stochastic defence: the mean of the objective's gradients over ``n`` passes of a
        # single-sample view of the target (each pass draws the defence's randomness afresh), not the
        # gradient of the objective of EOT-averaged logits and scores.
        d = model.defence
        n = int(getattr(model, "eot_samples", 1)) if d is not None and getattr(d, "stochastic", False) else 1
        view = AdaptiveTarget(d, model.classifier, 1) if n > 1 else model

        def one_pass(xr: Tensor) -> tuple[Tensor, list[Tensor]]:
            obj, logits, score = self.objective(view, xr, y, tgt)
            return obj.sum(), [obj, logits, score]

        best = _LexBest(x)
        for r in range(self.restarts):
            x_adv = random_in_ball(x, eps, "linf") if r > 0 and eps > 0 else x.clone()
            for step in range(self.steps + 1):
                grad, (obj, logits, score) = eot_gradient(one_pass, x_adv, n, need_grad=step < self.steps)
                best.update(x_adv, self.succeeded(model, logits, score, y, tgt), obj)
                if grad is None:
                    break
                with torch.no_grad():
                    x_adv = x_adv.detach() + alpha * torch.nan_to_num(grad).sign()
                    x_adv = (x + (x_adv - x).clamp(-eps, eps)).clamp(0, 1)
        return best.x


class _LexBest:
    """Per example, the best iterate in lexicographic order: success first, then the objective (no
    constant bonus whose size must dominate the objective's range)."""

    def __init__(self, x: Tensor) -> None:
        self.x = x.clone()
        self.success = torch.zeros(x.shape[0], dtype=torch.bool, device=x.device)
        self.obj = torch.full((x.shape[0],), -math.inf, dtype=x.dtype, device=x.device)

    @torch.no_grad()
    def update(self, x: Tensor, success: Tensor, obj: Tensor) -> None:
        obj = obj.detach().to(self.obj.dtype)
        better = (success & ~self.success) | ((success == self.success) & (obj > self.obj))
        self.x[better] = x.detach()[better]
        self.success = self.success | success
        self.obj = torch.where(better, obj, self.obj)
