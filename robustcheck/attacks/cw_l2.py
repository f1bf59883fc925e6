"""Carlini–Wagner L2 (Carlini & Wagner 2017) with the binary search over the constant c (001 eq 2, app. B.1).

    min_w ‖x'(w) − x‖₂² + c · f(x'(w)),   x'(w) = (tanh(w) + 1) / 2 ∈ (0, 1)

with the margin loss computed on logits z,

    f(x') = max(z_y − max_{j≠y} z_j, −κ)          (untargeted)
    f(x') = max(max_{j≠t} z_j − z_t, −κ)          (targeted to t).

``max_{j≠y}`` masks the true class with −∞ (:func:`robustcheck.attacks.base.margin`), so the margin is
right when every logit is negative — the masking-by-multiplication bug (max over (1 − onehot) · z picks
the masked 0) cannot happen here. Per example, c starts at ``initial_const`` and is bisected over
``search_steps`` rounds: a success lowers the upper bound, a failure raises the lower bound (×10 while
no upper bound exists). Each round runs ``steps`` Adam iterations (learning rate ``lr``) from the clean
point; the smallest-L2 successful iterate over all rounds is returned (the clean point when none).

It is a minimisation attack: :class:`~robustcheck.attacks.base.BaseAttack` runs it once and projects the
result onto each ε of the list (reporting the unbounded success as well).

Speed: Adam is written out per element so that examples whose loss has stopped decreasing (checked
every ``steps // 10`` iterations, as CW's ``abort_early``) leave the batch; the model then only sees the
examples still moving, which is where the time goes.

Args:
    steps: Adam iterations per binary-search round (001 B.1: 200 on MNIST).
    search_steps: binary-search rounds over c (001 B.1: 7 on MNIST, 9 on Fashion-MNIST).
    initial_const: first c (001 B.1: 100 on MNIST/Fashion-MNIST, 1 on CIFAR-10).
    lr: Adam learning rate (001 B.1: 0.1 on MNIST, 0.01 on CIFAR-10).
    confidence: κ ≥ 0, the margin required for success (001: 0).
    abort_early: drop an example from the round once its loss stops decreasing.

Example:
    >>> [res] = CWL2(steps=100)(model, x, y, eps=[1.5])   # doctest: +SKIP
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from robustcheck.attacks.base import BaseAttack, check_positive
from robustcheck.attacks.iterative import objective
from robustcheck.attacks.registry import ATTACKS
from robustcheck.norms import Norm

_UPPER = 1e10


def still_decreasing(loss: Tensor, prev: Tensor, rel: float = 1e-4) -> Tensor:
    """CW's early-abort test: the loss fell by at least ``rel`` of its magnitude since the last check.
    With κ > 0 the loss l2² + c·max(−margin, −κ) can be negative, where ``loss ≤ 0.9999·prev`` would
    keep an example whose loss went *up*; the first check (``prev`` = +∞) always passes."""
    return torch.where(
        torch.isfinite(prev), loss <= prev - rel * prev.abs(), torch.ones_like(loss, dtype=torch.bool)
    )


@ATTACKS.register("cw-l2")
class CWL2(BaseAttack):
    norm = Norm.L2
    name = "cw-l2"
    minimization = True

    def __init__(
        self,
        *,
        steps: int = 200,
        search_steps: int = 7,
        initial_const: float = 100.0,
        lr: float = 0.1,
        confidence: float = 0.0,
        abort_early: bool = True,
        targeted: bool = False,
        seed: int = 0,
        batch_size: int = 250,
    ) -> None:
        super().__init__(targeted=targeted, seed=seed, batch_size=batch_size)
        check_positive("attack 'cw-l2': steps", steps, integer=True)
        check_positive("attack 'cw-l2': search_steps", search_steps, integer=True)
        check_positive("attack 'cw-l2': initial_const", initial_const)
        check_positive("attack 'cw-l2': lr", lr)
        check_positive("attack 'cw-l2': confidence", confidence, allow_zero=True)
        self.steps, self.search_steps = steps, search_steps
        self.initial_const, self.lr, self.confidence = float(initial_const), float(lr), float(confidence)
        self.abort_early = bool(abort_early)

    def run(self, model: nn.Module, x: Tensor, y: Tensor, eps: float | None, target: Tensor | None) -> Tensor:
        n = x.shape[0]
        tgt = target if self.targeted else None
        w0 = torch.atanh((2 * x - 1).clamp(-1 + 1e-6, 1 - 1e-6))
        lower = torch.zeros(n, device=x.device, dtype=x.dtype)
        upper = torch.full_like(lower, _UPPER)
        const = torch.full_like(lower, self.initial_const)
        best_l2 = torch.full_like(lower, float("inf"))
        best_x = x.clone()
        check_every = max(1, self.steps // 10)
        b1, b2, adam_eps = 0.9, 0.999, 1e-8
        with torch.no_grad():  # already adversarial at distance 0: nothing to optimise
            adv0 = objective(model(x), y, tgt)
            done = adv0 > self.confidence if self.confidence > 0 else adv0 > 0
        best_l2[done] = 0.0
        for _ in range(self.search_steps):
            w = w0.clone()
            m = torch.zeros_like(w)
            v = torch.zeros_like(w)
            found = done.clone()
            active = torch.arange(n, device=x.device)[~done]
            prev_loss = torch.full_like(lower, float("inf"))
            for it in range(self.steps):
                if active.numel() == 0:
                    break
                wa = w[active].requires_grad_(True)
                xa = (torch.tanh(wa) + 1) / 2
                logits = model(xa)
                l2sq = (xa - x[active]).flatten(1).pow(2).sum(1)
                adv = objective(logits, y[active], None if tgt is None else tgt[active])
                f = (-adv).clamp_min(-self.confidence)
                loss = l2sq + const[active] * f
                (grad,) = torch.autograd.grad(loss.sum(), wa)
                with torch.no_grad():
                    succ = adv > self.confidence if self.confidence > 0 else adv > 0
                    improved = succ & (l2sq < best_l2[active])
                    idx = active[improved]
                    best_l2[idx] = l2sq[improved]
                    best_x[idx] = xa[improved].detach()
                    found[active[succ]] = True
                    # Adam, element-wise (so examples can leave the batch)
                    t = it + 1
                    ma = b1 * m[active] + (1 - b1) * grad
                    va = b2 * v[active] + (1 - b2) * grad * grad
                    m[active], v[active] = ma, va
                    step = self.lr * (ma / (1 - b1**t)) / ((va / (1 - b2**t)).sqrt() + adam_eps)
                    w[active] = wa.detach() - step
                    if self.abort_early and (it + 1) % check_every == 0:
                        keep = still_decreasing(loss.detach(), prev_loss[active])
                        prev_loss[active] = loss.detach()
                        active = active[keep]
                        if active.numel() == 0:
                            break
            # binary search on c, per example
            lower = torch.where(found, lower, torch.maximum(lower, const))
            upper = torch.where(found, torch.minimum(upper, const), upper)
            has_upper = upper < _UPPER / 10
            const = torch.where(has_upper, (lower + upper) / 2, const * 10)
        return best_x
