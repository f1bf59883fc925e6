"""Shared loop of the iterative gradient attacks: BIM and PGD in L∞ and L2 (random start, restarts).

One step (Kurakin et al. 2017 BIM; Madry et al. 2018 PGD; 004 eq 1.4):
    x ← Π_{B(x₀, ε) ∩ [0,1]}(x + s · α · d(∇ₓ L)),
with ``d = sign`` for L∞ and ``d = g / ‖g‖₂`` for L2, ``s = +1`` untargeted (ascend the loss of the
true class) and ``s = −1`` targeted (descend towards the target, 002 eq 2). BIM starts at x₀, PGD at a
uniform random point of the ε-ball. Every attack here returns, per example, the best iterate over all
steps and restarts (highest margin max_{j≠y} z_j − z_y, or z_t − max_{j≠t} z_j when targeted), never
just the last one, so an iterate that fooled the model is never lost.

Subclasses only declare ``norm``, the name and the default of ``random_start``.
"""

from __future__ import annotations

import math
from functools import partial
from typing import ClassVar

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from robustcheck.attacks.base import BaseAttack, margin
from robustcheck.attacks.gradients import loss_gradient
from robustcheck.errors import ConfigError
from robustcheck.norms import project


def objective(logits: Tensor, y: Tensor, target: Tensor | None) -> Tensor:
    """Per-example objective to maximise; > 0 exactly when the attack succeeded."""
    if target is not None:
        return -margin(logits, target)  # > 0 once the target logit is the largest
    return margin(logits, y)


class BestIterate:
    """Keeps, per example, the iterate with the highest :func:`objective` seen so far."""

    def __init__(self, x: Tensor, obj: Tensor | None = None) -> None:
        """``obj=None``: ``x`` has not been scored yet (the first :meth:`update` replaces it)."""
        self.x = x.clone()
        self.obj = obj.clone() if obj is not None else torch.full((x.shape[0],), -math.inf, device=x.device)

    @torch.no_grad()
    def update(self, x: Tensor, obj: Tensor, rows: Tensor | None = None) -> None:
        """Keep ``x`` where its objective is higher; ``rows``: the examples ``x`` and ``obj`` are of (all
        when None)."""
        if rows is not None:
            better = obj > self.obj[rows]
            self.x[rows[better]] = x.detach()[better]
            self.obj[rows] = torch.where(better, obj, self.obj[rows])
            return
        better = obj > self.obj
        self.x[better] = x.detach()[better]
        self.obj = torch.where(better, obj, self.obj)


@torch.no_grad()
def better_of(
    model: nn.Module,
    x_first: Tensor,
    logits_first: Tensor,
    x_second: Tensor,
    y: Tensor,
    target: Tensor | None,
) -> Tensor:
    """Per example, the point with the higher :func:`objective` of two the attack evaluated (ties: the
    second). A single-step attack evaluates the model at its start point; when that point already fooled
    the model, it must be returned rather than a step that undoes it (silent success, EVALUATION.md)."""
    first_better = objective(logits_first, y, target) > objective(model(x_second), y, target)
    return torch.where(first_better.view(-1, *([1] * (x_first.dim() - 1))), x_first, x_second)


def random_in_ball(x: Tensor, eps: float, norm: str) -> Tensor:
    """A uniform random point of the ε-ball around ``x`` (L∞: box; L2: uniform in the ball), in [0, 1].

    Drawn from the CPU generator and moved: the same start on every device (CPU and CUDA runs of a seeded
    attack then differ by float noise alone)."""
    if norm == "linf":
        delta = torch.empty(x.shape, dtype=x.dtype).uniform_(-eps, eps).to(x.device)
    else:
        d = x[0].numel()
        direction = torch.randn(x.shape, dtype=x.dtype).to(x.device).flatten(1)
        direction = direction / direction.norm(dim=1, keepdim=True).clamp_min(1e-12)
        radius = eps * torch.rand(x.shape[0], 1, dtype=x.dtype).to(x.device) ** (1.0 / d)
        delta = (direction * radius).view_as(x)
    return (x + delta).clamp(0, 1)


def ascent_direction(grad: Tensor, norm: str) -> Tensor:
    """Steepest-ascent direction of unit ``norm`` step: sign(g) for L∞, g/‖g‖₂ for L2."""
    if norm == "linf":
        return grad.sign()
    n = grad.flatten(1).norm(dim=1).clamp_min(1e-12)
    return grad / n.view(-1, *([1] * (grad.dim() - 1)))


class IterativeAttack(BaseAttack):
    """BIM / PGD base: ``steps`` iterations of step ``alpha`` in ``norm``, ``restarts`` starts, best iterate.

    Args:
        steps: iterations per restart (scaled down by ``Scale.attack_steps``).
        alpha: step size in the attack's norm; default 2.5 · ε / steps (Madry et al. 2018).
        random_start: start uniformly in the ε-ball (PGD) or at x₀ (BIM); default per attack.
        restarts: independent starts; the best iterate over all of them is returned.
        early_stop: stop iterating an example once an iterate succeeded (for probes that need only the
            success rate, e.g. the unbounded-PGD indicator: the returned x′ of a succeeded example is that
            first successful iterate, not the one of highest margin).
    """

    default_random_start: ClassVar[bool] = True

    def __init__(
        self,
        *,
        steps: int = 40,
        alpha: float | None = None,
        random_start: bool | None = None,
        restarts: int = 1,
        early_stop: bool = False,
        targeted: bool = False,
        seed: int = 0,
        batch_size: int = 250,
    ) -> None:
        super().__init__(targeted=targeted, seed=seed, batch_size=batch_size)
        if not isinstance(early_stop, bool):
            raise ConfigError(f"attack {self.name!r}: early_stop must be True or False, got {early_stop!r}")
        self.early_stop = early_stop
        if isinstance(steps, bool) or not isinstance(steps, int) or steps <= 0:
            raise ConfigError(f"attack {self.name!r}: steps must be a positive int, got {steps!r}")
        if alpha is not None and (
            isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not alpha > 0
        ):
            raise ConfigError(f"attack {self.name!r}: alpha must be a number > 0, got {alpha!r}")
        if isinstance(restarts, bool) or not isinstance(restarts, int) or restarts <= 0:
            raise ConfigError(f"attack {self.name!r}: restarts must be a positive int, got {restarts!r}")
        self.steps, self.alpha, self.restarts = steps, alpha, restarts
        self.random_start = self.default_random_start if random_start is None else bool(random_start)

    def run(self, model: nn.Module, x: Tensor, y: Tensor, eps: float | None, target: Tensor | None) -> Tensor:
        assert eps is not None
        alpha = self.alpha if self.alpha is not None else 2.5 * eps / self.steps
        tgt = target if self.targeted else None
        labels = tgt if tgt is not None else y
        sign = self.loss_sign()
        with torch.no_grad():  # without a random start, the first step scores x itself
            best = BestIterate(x, objective(model(x), y, tgt) if self.random_start else None)
        if self.early_stop:
            return self._run_early_stop(model, x, y, eps, alpha, tgt, best)
        for _ in range(self.restarts):
            x_adv = random_in_ball(x, eps, self.norm) if self.random_start and eps > 0 else x.clone()
            for _ in range(self.steps):
                # EOT-aware: under an EOT wrapper, the mean of the loss gradients of its passes
                grad, logits = loss_gradient(
                    model, x_adv, lambda z: F.cross_entropy(z, labels, reduction="sum")
                )
                with torch.no_grad():
                    best.update(x_adv, objective(logits, y, tgt))
                    x_adv = x_adv.detach() + sign * alpha * ascent_direction(grad, self.norm)
                    x_adv = (x + project(x_adv - x, eps, self.norm)).clamp(0, 1)
            with torch.no_grad():
                best.update(x_adv, objective(model(x_adv), y, tgt))
        return best.x

    def _run_early_stop(
        self,
        model: nn.Module,
        x: Tensor,
        y: Tensor,
        eps: float,
        alpha: float,
        tgt: Tensor | None,
        best: BestIterate,
    ) -> Tensor:
        """:meth:`run` where only the examples no iterate has fooled yet take further steps."""
        labels = tgt if tgt is not None else y
        sign = self.loss_sign()
        for _ in range(self.restarts):
            rows = torch.nonzero(best.obj <= 0).flatten()
            x_adv = (
                random_in_ball(x[rows], eps, self.norm) if self.random_start and eps > 0 else x[rows].clone()
            )
            for _ in range(self.steps + 1):
                if rows.numel() == 0:
                    break
                x0, yr, lr = x[rows], y[rows], labels[rows]
                tr = tgt[rows] if tgt is not None else None
                grad, logits = loss_gradient(model, x_adv, partial(_summed_ce, labels=lr))
                with torch.no_grad():
                    obj = objective(logits, yr, tr)
                    best.update(x_adv, obj, rows)
                    keep = obj <= 0
                    rows, x_adv, x0, grad = rows[keep], x_adv[keep], x0[keep], grad[keep]
                    x_adv = x_adv.detach() + sign * alpha * ascent_direction(grad, self.norm)
                    x_adv = (x0 + project(x_adv - x0, eps, self.norm)).clamp(0, 1)
        return best.x


def _summed_ce(logits: Tensor, labels: Tensor) -> Tensor:
    return F.cross_entropy(logits, labels, reduction="sum")
