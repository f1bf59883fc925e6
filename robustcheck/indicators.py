"""Attack-failure indicators (Pintor et al. 2022; Carlini et al. 2019; Athalye et al. 2018): pure
functions the engine runs on every case, reported as 0/1 metrics (lower is better) so a suite can
require e.g. ``Thresholds(gradient_masking=0)`` like any other bar. See EVALUATION.md.

Per case, on the model the attack targeted (C for grey-box, the defended pipeline for white-box):
- ``silent_success``: an iterate inside the budget fooled the model but the returned x′ does not
  (:class:`IterateRecorder` watches the attack's forward passes).
- ``shattered_gradients``: zero or NaN input gradients (:func:`gradient_health`; the CW margin is used
  rather than the cross-entropy, whose gradient underflows to 0 on very confident inputs).
- ``unbounded_not_zero``: PGD with an unbounded budget leaves > :data:`UNBOUNDED_MAX_ACCURACY` accuracy.
- ``blackbox_beats_whitebox``: Square at the same ε beats the iterative gradient attack.
Across a case family (computed lazily from sibling cases): ``eps_nonmonotone`` (defended rate rises
with ε) and ``iterative_weaker`` (PGD/BIM leave more defended than FGSM). Differences count only
beyond :func:`tolerance` (two binomial standard errors plus one example).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from robustcheck.attacks.base import margin

#: Unbounded PGD must bring the attacked model's accuracy to at most this.
UNBOUNDED_MAX_ACCURACY = 0.10
#: Fraction of examples with a zero input gradient above which gradients count as shattered.
ZERO_GRADIENT_MAX_FRACTION = 0.10
#: Iterative attacks with a single-step counterpart of the same norm.
SINGLE_STEP = {"pgd-linf": "fgsm", "bim-linf": "fgsm", "pgd-l2": "fgsm-l2", "bim-l2": "fgsm-l2"}
#: "Unbounded" budgets per norm (inputs in [0, 1]): the whole box for L∞, its diameter for L2 (MNIST).
UNBOUNDED_EPS = {"linf": 1.0, "l2": 28.0}


def tolerance(p: float, n: int) -> float:
    """Sampling slack for comparing two rates of ``n`` examples: 2 binomial SE + 1/n."""
    if n <= 0 or math.isnan(p):
        return math.inf
    return 2.0 * math.sqrt(max(p * (1 - p), 0.0) / n) + 1.0 / n


def higher_beyond_noise(a: float | None, b: float | None, n: int) -> float | None:
    """1.0 if ``a`` exceeds ``b`` by more than :func:`tolerance`, else 0.0 (None if either is missing)."""
    if a is None or b is None or math.isnan(a) or math.isnan(b):
        return None
    return float(a > b + tolerance((a + b) / 2, n))


def silent_success_count(fooled_iterate: Tensor, returned_fools: Tensor) -> int:
    """Examples where some iterate fooled the model and the returned x′ does not."""
    return int((fooled_iterate.bool() & ~returned_fools.bool()).sum())


class IterateRecorder(nn.Module):
    """Wraps the attacked model and records, per example, whether any forward pass the attack made on a
    point inside the ε-ball (and [0, 1]) was misclassified.

    Attacks call the model on batches of ``batch_size`` consecutive examples (``BaseAttack`` splits
    them that way), so a forward batch is matched to the chunk of the same size whose clean inputs it is
    within ε of; other calls (e.g. probes of a few rows) are ignored. Untargeted "fooled" means argmax ≠ y.
    """

    def __init__(self, model: nn.Module, x: Tensor, y: Tensor, eps: float, norm: str, batch_size: int) -> None:
        super().__init__()
        self.model, self.x, self.y, self.eps, self.norm, self.bs = model, x, y, eps, norm, batch_size
        self.fooled = torch.zeros(x.shape[0], dtype=torch.bool, device=x.device)

    def forward(self, xb: Tensor) -> Tensor:
        out = self.model(xb)
        if self.norm not in ("linf", "l2"):
            return out
        with torch.no_grad():
            b = xb.shape[0]
            for start in range(0, self.x.shape[0], self.bs):
                x0 = self.x[start : start + self.bs]
                if x0.shape[0] != b:
                    continue
                d = (xb.detach() - x0).flatten(1)
                dist = d.abs().amax(1) if self.norm == "linf" else d.norm(dim=1)
                inside = (dist <= self.eps * (1 + 1e-6) + 1e-6) & (xb.detach() >= 0).flatten(1).all(1) & \
                    (xb.detach() <= 1).flatten(1).all(1)
                if not bool(inside.all()):
                    continue
                pred = out.argmax(1)
                self.fooled[start : start + b] |= pred != self.y[start : start + b]
                break
        return out


def gradient_health(model: nn.Module, x: Tensor, y: Tensor) -> tuple[float, bool]:
    """(fraction of inputs whose input gradient of the CW margin is exactly 0, any NaN/inf gradient)."""
    xr = x.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        out = model(xr)
        (g,) = torch.autograd.grad(margin(out, y).sum(), xr, allow_unused=True)
    if g is None:
        return 1.0, False
    flat = g.flatten(1)
    nan = bool((~torch.isfinite(flat)).any())
    zero = (torch.nan_to_num(flat).abs().amax(1) == 0).double().mean().item()
    return zero, nan


def shattered(zero_fraction: float, nan: bool) -> float:
    return float(nan or zero_fraction > ZERO_GRADIENT_MAX_FRACTION)


def gradient_masking(*flags: float | None) -> float | None:
    """1.0 if any flag is set, 0.0 if all measured flags are clear, None if none was measured."""
    measured = [f for f in flags if f is not None]
    return float(any(f > 0 for f in measured)) if measured else None
