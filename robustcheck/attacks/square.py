"""Square Attack (Andriushchenko et al. 2020, ECCV): black-box, score-based random search with
square-shaped updates.

Only the model's outputs are used (no gradient), so it is the release gate's check that a defence is not
merely masking gradients. Written here (not torchattacks) because a release gate needs the attacker's
success defined by the defended pipeline: against a black-box oracle that reports detector flags
(:class:`robustcheck.threat.DefendedLogits`), a flagged query is a *failure* for the attacker — its loss
is +∞ and it is never accepted — so the attack succeeds only on an input that is misclassified **and**
not flagged (EVALUATION.md). Against a plain model it is the paper's attack.

The loop (paper Alg. 1, margin loss L = z_y − max_{j≠y} z_j, success at L < 0; untargeted):
- L∞ (§3.1): start at vertical stripes x + ε·(±1 per column and channel); each iteration changes one
  random s×s window (the same position in every channel) to x₀ ± ε with one random sign per channel
  (re-drawn until it differs from the current window) and keeps the change if the loss decreased.
- L2 (§3.2): start from a grid of s×s pseudo-Gaussian blocks ("meta" pattern, random sign per block and
  channel) rescaled to ‖δ‖₂ = ε; each iteration picks two windows, moves the mass of the second into
  the first along a new pseudo-Gaussian block of random sign (the norm on their union plus the unused
  budget ε² − ‖δ‖² is preserved), and keeps the change if the loss decreased.
- The window side follows the paper's schedule: s = round(√(p·h·w)) with p = ``p_init`` halved at
  iterations 10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000 of a 10,000-query budget (rescaled to
  ``steps``).
Each example stops querying once it succeeds; every returned x′ is inside the ε-ball ∩ [0, 1].

Args:
    steps: queries per example (Square's budget; not capped by ``Scale.attack_steps``).
    restarts: independent restarts for the examples not yet broken (each with a fresh random start).
    p_init: initial fraction of pixels changed per query (paper: 0.05 for L∞ on ImageNet, 0.8 on MNIST).

Example:
    >>> [res] = SquareLinf(steps=1000)(model, x, y, eps=[0.3])   # doctest: +SKIP
"""

from __future__ import annotations

import math
from typing import ClassVar

import torch
from torch import Tensor, nn

from robustcheck.attacks.base import BaseAttack, check_positive, query_model
from robustcheck.attacks.registry import ATTACKS
from robustcheck.errors import ConfigError
from robustcheck.norms import Norm

#: Iterations (of a 10,000-query budget) after which the window fraction p is halved (paper §3, App. B).
_P_SCHEDULE = (10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000)


def p_at(p_init: float, it: int, steps: int) -> float:
    """The paper's piecewise-constant schedule of the fraction of pixels changed per query."""
    scaled = int(it / steps * 10000)
    halvings = sum(scaled > b for b in _P_SCHEDULE)
    return p_init / 2**halvings


def margin_loss(model: nn.Module, x: Tensor, y: Tensor) -> Tensor:
    """z_y − max_{j≠y} z_j (negative exactly when misclassified); +∞ where an oracle flags the input."""
    logits, flagged = query_model(model, x)
    logits = logits.float()
    true = logits.gather(1, y.view(-1, 1)).squeeze(1)
    other = logits.clone()
    other.scatter_(1, y.view(-1, 1), -math.inf)
    loss = true - other.amax(1)
    if flagged is not None:
        loss = torch.where(flagged, torch.full_like(loss, math.inf), loss)
    return loss


def pseudo_gaussian_block(s: int, device: torch.device, dtype: torch.dtype) -> Tensor:
    """The paper's L2 update pattern: concentric rings with weight ∝ 1/(ring index + 1)², summed over the
    ring centres; its two halves carry opposite signs (§3.2, Fig. 2), unit L2 norm."""

    def rings(h: int, w: int) -> Tensor:
        block = torch.zeros(h, w, device=device, dtype=dtype)
        ch, cw = h // 2, w // 2
        for k in range(max(ch, cw) + 1):
            top, bottom = max(ch - k, 0), min(ch + k + 1, h)
            left, right = max(cw - k, 0), min(cw + k + 1, w)
            block[top:bottom, left:right] += 1.0 / (k + 1) ** 2
        return block

    block = torch.zeros(s, s, device=device, dtype=dtype)
    half = s // 2
    block[:half] = rings(half, s)
    block[half:] = -rings(s - half, s)
    return block / block.norm().clamp_min(1e-12)


class _Square(BaseAttack):
    supports_targeted = False
    gradient_free = True
    min_side: ClassVar[int] = 1

    def __init__(
        self,
        *,
        steps: int = 5000,
        restarts: int = 1,
        p_init: float = 0.8,
        targeted: bool = False,
        seed: int = 0,
        batch_size: int = 250,
    ) -> None:
        super().__init__(targeted=targeted, seed=seed, batch_size=batch_size)
        check_positive(f"attack {self.name!r}: steps", steps, integer=True)
        check_positive(f"attack {self.name!r}: restarts", restarts, integer=True)
        if isinstance(p_init, bool) or not isinstance(p_init, (int, float)) or not 0 < p_init <= 1:
            raise ConfigError(f"attack {self.name!r}: p_init must be in (0, 1], got {p_init!r}")
        self.steps, self.restarts, self.p_init = steps, restarts, float(p_init)

    def side(self, it: int, h: int, w: int) -> int:
        s = round(math.sqrt(p_at(self.p_init, it, self.steps) * h * w))
        return max(self.min_side, min(s, h - 1 if h > 1 else 1, w - 1 if w > 1 else 1))

    def run(self, model: nn.Module, x: Tensor, y: Tensor, eps: float | None, target: Tensor | None) -> Tensor:
        assert eps is not None
        if x.dim() != 4:
            raise ConfigError(
                f"attack {self.name!r} needs image batches (N, C, H, W), got shape {tuple(x.shape)}"
            )
        best = x.clone()
        if eps == 0:
            return best
        with torch.no_grad():
            best_loss = margin_loss(model, x, y)
            for _ in range(self.restarts):
                todo = best_loss >= 0  # not yet broken (flagged inputs have loss +inf)
                if not bool(todo.any()):
                    break
                idx = todo.nonzero().squeeze(1)
                x_adv, loss = self.search(model, x[idx], y[idx], eps)
                better = loss < best_loss[idx]
                best[idx[better]] = x_adv[better]
                best_loss[idx[better]] = loss[better]
        return best

    def search(self, model: nn.Module, x: Tensor, y: Tensor, eps: float) -> tuple[Tensor, Tensor]:
        raise NotImplementedError


@ATTACKS.register("square")
class SquareLinf(_Square):
    norm = Norm.LINF
    name = "square"

    def search(self, model: nn.Module, x: Tensor, y: Tensor, eps: float) -> tuple[Tensor, Tensor]:
        n, c, h, w = x.shape
        signs = torch.randint(0, 2, (n, c, 1, w)).to(x.device, x.dtype) * 2 - 1
        x_cur = (x + eps * signs).clamp(0, 1)
        loss = margin_loss(model, x_cur, y)
        for it in range(self.steps - 1):
            active = (loss >= 0).nonzero().squeeze(1)
            if active.numel() == 0:
                break
            xa, x0 = x_cur[active], x[active]
            s = self.side(it, h, w)
            delta = xa - x0
            r = int(torch.randint(0, h - s + 1, (1,)))
            col = int(torch.randint(0, w - s + 1, (1,)))
            x0w, dw = x0[:, :, r : r + s, col : col + s], delta[:, :, r : r + s, col : col + s]
            new = eps * (torch.randint(0, 2, (active.numel(), c, 1, 1)).to(x.device, x.dtype) * 2 - 1)
            window = (x0w + new).clamp(0, 1) - x0w
            same = (window == dw).flatten(2).all(2, keepdim=True).unsqueeze(-1)  # (n, c, 1, 1)
            # the update must change the window (paper): where a channel's draw repeats it, flip its sign
            window = torch.where(same, (x0w - new).clamp(0, 1) - x0w, window)
            cand = delta.clone()
            cand[:, :, r : r + s, col : col + s] = window
            _accept(model, x0, cand, y, active, x_cur, loss)
        return x_cur, loss


@ATTACKS.register("square-l2")
class SquareL2(_Square):
    norm = Norm.L2
    name = "square-l2"
    min_side = 3

    def side(self, it: int, h: int, w: int) -> int:
        s = super().side(it, h, w)
        return s if s % 2 == 1 or s + 1 > min(h, w) else s + 1

    def search(self, model: nn.Module, x: Tensor, y: Tensor, eps: float) -> tuple[Tensor, Tensor]:
        _, c, h, w = x.shape
        delta = self.initial(x, eps)
        x_cur = (x + delta).clamp(0, 1)
        loss = margin_loss(model, x_cur, y)
        for it in range(self.steps - 1):
            active = (loss >= 0).nonzero().squeeze(1)
            if active.numel() == 0:
                break
            x0 = x[active]
            d = x_cur[active] - x0
            na = active.numel()
            s = self.side(it, h, w)
            r1, c1 = int(torch.randint(0, h - s + 1, (1,))), int(torch.randint(0, w - s + 1, (1,)))
            r2, c2 = int(torch.randint(0, h - s + 1, (1,))), int(torch.randint(0, w - s + 1, (1,)))
            win1 = (slice(None), slice(None), slice(r1, r1 + s), slice(c1, c1 + s))
            win2 = (slice(None), slice(None), slice(r2, r2 + s), slice(c2, c2 + s))
            union = torch.zeros(1, 1, h, w, device=x.device, dtype=x.dtype)
            union[win1] = 1
            union[win2] = 1
            unused = (eps**2 - d.pow(2).sum((1, 2, 3))).clamp_min(0).view(-1, 1) / c
            mass = ((d * union) ** 2).sum((2, 3)) + unused  # the union's mass plus the unused budget
            old1 = d[win1]
            old1_dir = old1 / old1.pow(2).sum((2, 3), keepdim=True).sqrt().clamp_min(1e-12)
            sign = torch.randint(0, 2, (na, c, 1, 1)).to(x.device, x.dtype) * 2 - 1
            pattern = pseudo_gaussian_block(s, x.device, x.dtype).view(1, 1, s, s) * sign + old1_dir
            pattern = pattern / pattern.pow(2).sum((2, 3), keepdim=True).sqrt().clamp_min(1e-12)
            cand = d.clone()
            cand[win2] = 0
            cand[win1] = pattern * mass.clamp_min(0).sqrt().view(na, c, 1, 1)
            _accept(model, x0, _to_ball(cand, eps), y, active, x_cur, loss)
        return x_cur, loss

    @staticmethod
    def initial(x: Tensor, eps: float) -> Tensor:
        """A grid of s×s pseudo-Gaussian blocks (s = h // 5) with a random sign per block and channel,
        rescaled to ‖δ‖₂ = ε (paper §3.2 initialisation)."""
        n, c, h, w = x.shape
        s = max(h // 5, 1)
        delta = torch.zeros_like(x)
        block = pseudo_gaussian_block(s, x.device, x.dtype).view(1, 1, s, s) if s >= 2 else None
        top = (h - s * (h // s)) // 2
        for i in range(h // s):
            left = (w - s * (w // s)) // 2
            for _ in range(w // s):
                sign = torch.randint(0, 2, (n, c, 1, 1)).to(x.device, x.dtype) * 2 - 1
                pattern = block * sign if block is not None else sign
                delta[:, :, top + i * s : top + (i + 1) * s, left : left + s] += pattern
                left += s
        return _to_ball(delta, eps, exact=True)


def _accept(
    model: nn.Module, x0: Tensor, cand: Tensor, y: Tensor, active: Tensor, x_cur: Tensor, loss: Tensor
) -> None:
    """Query x₀ + candidate perturbation for the ``active`` rows; keep it (in place) where the loss fell."""
    x_new = (x0 + cand).clamp(0, 1)
    new_loss = margin_loss(model, x_new, y[active])
    improved = new_loss < loss[active]
    x_cur[active[improved]] = x_new[improved]
    loss[active[improved]] = new_loss[improved]


def _to_ball(delta: Tensor, eps: float, exact: bool = False) -> Tensor:
    """Scale each row onto the L2 sphere of radius ε (``exact``) or into the ball (shrink only)."""
    norms = delta.flatten(1).norm(dim=1).clamp_min(1e-12).view(-1, 1, 1, 1)
    factor = eps / norms if exact else torch.clamp(eps / norms, max=1.0)
    return delta * factor
