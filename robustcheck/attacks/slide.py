"""SLIDE — Sparse L1 Descent (Tramèr & Boneh 2019; 001 eq 3, appendix B.2).

Each step, with g = ∇ₓ L(C(x + δ), y) (cross-entropy; targeted: descend the target's loss):

    e_i = sign(g_i) if |g_i| ≥ P_q(|g|) else 0           (001 eq 3, P_q the q-th percentile per example)
    δ ← Π_{B₁(ε)}(δ + λ · e / ‖e‖₂),   x + δ ∈ [0, 1]

Before taking the percentile, components that cannot move (a pixel at 0 with a gradient pointing down,
or at 1 pointing up) get g_i = 0, as in Tramèr & Boneh's implementation; otherwise the sparse step
would be spent on saturated pixels. The L1 projection is Duchi et al.'s
(:func:`robustcheck.norms.project_l1`), then [0, 1] clipping (which only shrinks |δ|). Returns
per example the best iterate (highest margin) over the steps.

Step size. 001 B.2 uses λ = 0.05 for ε = 0.1 (λ/ε = 0.5). Since ‖e‖₁ = ‖e‖₂², the step λ·e/‖e‖₂ has L1
length λ·‖e‖₂; by default λ is set per example so that this length is ``rel_stepsize`` · ε (default
0.5, 001's ratio). ``step_size`` sets λ directly (the paper's absolute form) and takes precedence.

Args:
    q: percentile in [0, 100) (001 B.2: 80).
    steps: iterations (001 B.2: 10).
    rel_stepsize: L1 length of a step as a fraction of ε (default 0.5).
    step_size: absolute λ of 001 eq 3; overrides ``rel_stepsize``.

Example:
    >>> [res] = SLIDE()(model, x, y, eps=[10.0])   # doctest: +SKIP
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from robustcheck.attacks.base import BaseAttack, check_positive
from robustcheck.attacks.iterative import BestIterate, objective
from robustcheck.attacks.registry import ATTACKS
from robustcheck.errors import ConfigError
from robustcheck.norms import Norm, project_l1


@ATTACKS.register("slide")
class SLIDE(BaseAttack):
    norm = Norm.L1
    name = "slide"

    def __init__(
        self,
        *,
        q: float = 80.0,
        steps: int = 10,
        rel_stepsize: float = 0.5,
        step_size: float | None = None,
        targeted: bool = False,
        seed: int = 0,
        batch_size: int = 250,
    ) -> None:
        super().__init__(targeted=targeted, seed=seed, batch_size=batch_size)
        if isinstance(q, bool) or not isinstance(q, (int, float)) or not 0 <= q < 100:
            raise ConfigError(f"attack 'slide': q is a percentile in [0, 100), got {q!r}")
        check_positive("attack 'slide': steps", steps, integer=True)
        check_positive("attack 'slide': rel_stepsize", rel_stepsize)
        if step_size is not None:
            check_positive("attack 'slide': step_size", step_size)
        self.q, self.steps, self.rel_stepsize, self.step_size = (
            float(q),
            steps,
            float(rel_stepsize),
            step_size,
        )

    def direction(self, grad: Tensor, x_adv: Tensor) -> Tensor:
        """e / ‖e‖₂ of 001 eq 3, flattened per example."""
        g = grad.flatten(1)
        xf = x_adv.flatten(1)
        g = torch.where(((xf <= 0) & (g < 0)) | ((xf >= 1) & (g > 0)), torch.zeros_like(g), g)
        a = g.abs()
        thresh = torch.quantile(a, self.q / 100, dim=1, keepdim=True)  # P_q, linear interpolation (numpy's)
        e = torch.where((a >= thresh) & (a > 0), g.sign(), torch.zeros_like(g))
        return e / e.norm(dim=1, keepdim=True).clamp_min(1e-12)

    def run(self, model: nn.Module, x: Tensor, y: Tensor, eps: float | None, target: Tensor | None) -> Tensor:
        assert eps is not None
        tgt = target if self.targeted else None
        labels = tgt if tgt is not None else y
        sign = self.loss_sign()
        xf = x.flatten(1)
        best = BestIterate(x)  # the first step scores x itself
        x_adv = x.clone()
        for _ in range(self.steps):
            x_adv.requires_grad_(True)
            logits = model(x_adv)
            loss = F.cross_entropy(logits, labels, reduction="sum")
            (grad,) = torch.autograd.grad(loss, x_adv)
            with torch.no_grad():
                best.update(x_adv, objective(logits, y, tgt))
                u = self.direction(sign * grad, x_adv.detach())  # unit L2, sign folded in
                if self.step_size is not None:
                    lam = torch.full((u.shape[0], 1), float(self.step_size), device=x.device, dtype=x.dtype)
                else:  # L1 length of λ·e/‖e‖₂ is λ·‖e‖₂ = λ / ‖u‖_∞ (e is ±1 on its support)
                    lam = self.rel_stepsize * eps * u.abs().amax(1, keepdim=True)
                delta = x_adv.detach().flatten(1) - xf + lam * u
                delta = project_l1(delta, eps)
                x_adv = (xf + delta).clamp(0, 1).view_as(x)
        with torch.no_grad():
            best.update(x_adv, objective(model(x_adv), y, tgt))
        return best.x
