"""Shared loop of the detector-aware (adaptive) attacks.

Success in the detector-aware sense (Carlini & Wagner 2017; EVALUATION.md): x′ is misclassified (or
reaches the target) **and** not flagged (S(x′) ≤ t) **and** within the ε-ball. The loop is signed
gradient ascent on a per-example objective defined by the subclass, projected onto the L∞ ε-ball ∩
[0, 1], with restarts; it returns per example the best iterate: a successful one if any iterate
succeeded, else the one with the highest objective.

These attacks need the defence, not only a model: the engine passes a
:class:`robustcheck.threat.AdaptiveTarget` in white-box (and a defence-less one, i.e. the bare
classifier, in grey-box). Given a plain module they attack it as a defence-less classifier.
"""

from __future__ import annotations

from abc import abstractmethod

import torch
from torch import Tensor, nn

from robustcheck.attacks.base import BaseAttack, check_positive
from robustcheck.attacks.iterative import BestIterate, objective, random_in_ball


class AdaptiveAttack(BaseAttack):
    """Base of detector-aware attacks (L∞).

    Args:
        steps: iterations per restart (capped by ``Scale.attack_steps``).
        alpha: step size; default 2.5 · ε / steps.
        restarts: starts (the first at x₀, later ones uniformly in the ε-ball).
    """

    norm = "linf"
    #: The engine passes an AdaptiveTarget (defence parts) instead of a plain model.
    needs_defence = True

    def __init__(self, *, steps: int = 40, alpha: float | None = None, restarts: int = 1, targeted: bool = False,
                 seed: int = 0, batch_size: int = 250) -> None:
        super().__init__(targeted=targeted, seed=seed, batch_size=batch_size)
        check_positive(f"attack {self.name!r}: steps", steps, integer=True)
        check_positive(f"attack {self.name!r}: restarts", restarts, integer=True)
        if alpha is not None:
            check_positive(f"attack {self.name!r}: alpha", alpha)
        self.steps, self.alpha, self.restarts = steps, alpha, restarts

    @abstractmethod
    def objective(self, target: nn.Module, x: Tensor, y: Tensor, tgt: Tensor | None) -> tuple[Tensor, Tensor, Tensor]:
        """Return (per-example objective to maximise, logits of the unflagged label, score or zeros)."""

    @staticmethod
    def unflagged(target: nn.Module, score: Tensor) -> Tensor:
        t = getattr(target, "threshold", None)
        if t is None:
            return torch.ones_like(score, dtype=torch.bool)
        return score <= t

    def succeeded(self, target: nn.Module, logits: Tensor, score: Tensor, y: Tensor, tgt: Tensor | None) -> Tensor:
        return (objective(logits, y, tgt) > 0) & self.unflagged(target, score)

    def run(self, model: nn.Module, x: Tensor, y: Tensor, eps: float | None, target: Tensor | None) -> Tensor:
        from robustcheck.threat import AdaptiveTarget

        if not isinstance(model, AdaptiveTarget):
            model = AdaptiveTarget(None, model)  # no defence to be aware of: the bare classifier
        assert eps is not None
        alpha = self.alpha if self.alpha is not None else 2.5 * eps / self.steps
        tgt = target if self.targeted else None
        best: BestIterate | None = None
        for r in range(self.restarts):
            x_adv = random_in_ball(x, eps, "linf") if r > 0 and eps > 0 else x.clone()
            for step in range(self.steps + 1):
                x_adv.requires_grad_(True)
                obj, logits, score = self.objective(model, x_adv, y, tgt)
                with torch.no_grad():
                    key = obj.detach() + 1e6 * self.succeeded(model, logits, score, y, tgt).to(obj.dtype)
                    if best is None:
                        best = BestIterate(x_adv.detach(), key)
                    else:
                        best.update(x_adv, key)
                if step == self.steps:
                    break
                (grad,) = torch.autograd.grad(obj.sum(), x_adv)
                with torch.no_grad():
                    x_adv = x_adv.detach() + alpha * torch.nan_to_num(grad).sign()
                    x_adv = (x + (x_adv - x).clamp(-eps, eps)).clamp(0, 1)
        assert best is not None
        return best.x
