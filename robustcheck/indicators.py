"""Attack-failure indicators (Pintor et al. 2022; Carlini et al. 2019; Athalye et al. 2018): pure
functions the engine runs on every case, reported as 0/1 metrics (lower is better). A raised indicator
declared with an ``inconclusive`` fix (:data:`robustcheck.metrics.METRICS`, listed in :data:`INCONCLUSIVE`)
makes the case **inconclusive**: the evaluation failed, so its numbers are no robustness result, and the
case fails unless the suite allows it (``Thresholds(allow_inconclusive=...)``).
See EVALUATION.md.

Per case, on the model the attack targeted (C for grey-box, the defended pipeline for white-box):
- ``silent_success``: an iterate inside the budget fooled the model but the returned x′ does not
  (:class:`IterateRecorder` watches the attack's forward passes). Not measured (None) on a stochastic
  white-box target (EOT), where two forward passes of the same x′ are two random draws.
- ``shattered_gradients``: zero or NaN input gradients (:func:`gradient_health`; the CW margin is used
  rather than the cross-entropy, whose gradient underflows to 0 on very confident inputs).
- ``shattered_score_gradients``: zero or NaN input gradients of a detector's ``score`` (white-box;
  :func:`score_gradient_health`): the score path, which detector-aware attacks descend.
- ``unbounded_not_zero``: PGD with an unbounded budget (:func:`unbounded_eps`), started at the test
  inputs, leaves > :data:`UNBOUNDED_MAX_ACCURACY` accuracy.
- ``blackbox_beats_whitebox``: Square at the same ε beats the iterative gradient attack (in two stages:
  Square on the first 16 probe rows, then on all 64 only where it is ahead there; ``blackbox_rows``).
- ``noise_as_strong``: uniform random noise of the same norm and ε beats the attack beyond sampling
  noise (:func:`noise_as_strong`): the attack is broken.
Across a case family (computed lazily from sibling cases), on the quantity each definition names: the
defended pipeline's accuracy (``corrected_accuracy``), or for detectors the detector-aware success
(``adaptive_success_rate``): ``eps_nonmonotone`` (accuracy rises / success falls with ε),
``iterative_weaker`` (PGD/BIM weaker than FGSM) and ``adaptive_weaker`` (a detector-aware attack leaves a
higher defended rate than detector-oblivious PGD at the same ε and FPR). ``whitebox_weaker`` (white-box
only): the white-box case is weaker than the same attack's grey-box case, whose x′ a white-box attacker can
always play; compared on ``corrected_accuracy``, or on ``adaptive_success_rate`` for a detector-aware attack
on a detector (an oblivious attack aims at the label, not at staying unflagged). Differences count only
beyond :func:`tolerance` (two binomial standard errors plus one example).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

from robustcheck.attacks.base import margin
from robustcheck.attacks.gradients import eot_parts
from robustcheck.metrics import METRICS, inconclusive_fixes
from robustcheck.threat import AdaptiveTarget, DefendedLogits

#: Unbounded PGD must bring the attacked model's accuracy to at most this.
UNBOUNDED_MAX_ACCURACY = 0.10
#: Fraction of examples with a zero input gradient above which gradients count as shattered.
ZERO_GRADIENT_MAX_FRACTION = 0.10
#: Norms of the unbounded-PGD probe (see :func:`unbounded_eps`).
UNBOUNDED_NORMS = ("linf", "l2")
#: ``noise_as_strong`` is measured only where random noise keeps at least this fraction of the clean
#: accuracy (noise that already destroys accuracy says nothing about the attack).
NOISE_MIN_KEPT = 0.5


def __getattr__(name: str) -> Any:
    """``INCONCLUSIVE``: the indicators that make a case inconclusive when raised, each with the usual fix,
    derived from the declarations (:func:`robustcheck.metrics.inconclusive_fixes`) when read."""
    if name == "INCONCLUSIVE":
        return inconclusive_fixes()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def unbounded_eps(norm: str, input_shape: tuple[int, ...] | torch.Size) -> float:
    """An "unbounded" budget for inputs in [0, 1]: the whole box for L∞, its diameter √d for L2, where d
    is the number of input values per example (``input_shape`` without the batch dimension)."""
    if norm == "linf":
        return 1.0
    if norm == "l2":
        return math.sqrt(math.prod(input_shape))
    raise ValueError(f"no unbounded budget for norm {norm!r}")


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

    def __init__(
        self, model: nn.Module, x: Tensor, y: Tensor, eps: float, norm: str, batch_size: int
    ) -> None:
        super().__init__()
        self.model, self.x, self.y, self.eps, self.norm, self.bs = model, x, y, eps, norm, batch_size
        self.fooled = torch.zeros(x.shape[0], dtype=torch.bool, device=x.device)
        self._last = 0  # the chunk matched last: attacks finish one chunk before the next

    def forward(self, xb: Tensor) -> Tensor:
        out = self.model(xb)
        if self.norm not in ("linf", "l2"):
            return out
        with torch.no_grad():
            b, xd = xb.shape[0], xb.detach()
            starts = range(0, self.x.shape[0], self.bs)
            # the chunk of the last match first, then the next one: one comparison per forward pass
            order = [
                self._last,
                self._last + self.bs,
                *(s for s in starts if s not in (self._last, self._last + self.bs)),
            ]
            in_box: bool | None = None
            for start in order:
                x0 = self.x[start : start + self.bs]
                if x0.shape[0] != b:
                    continue
                d = (xd - x0).flatten(1)
                dist = d.abs().amax(1) if self.norm == "linf" else d.norm(dim=1)
                if not bool((dist <= self.eps * (1 + 1e-6) + 1e-6).all()):
                    continue
                if in_box is None:
                    in_box = bool(((xd >= 0) & (xd <= 1)).all())
                if not in_box:
                    break  # the same points for every chunk: none inside [0, 1]
                self._last = start
                pred = out.argmax(1)
                self.fooled[start : start + b] |= pred != self.y[start : start + b]
                break
        return out


def gradient_health(model: nn.Module, x: Tensor, y: Tensor) -> tuple[float, bool]:
    """(fraction of inputs whose input gradient of the CW margin is exactly 0, any NaN/inf gradient)."""
    return score_gradient_health(lambda z: margin(model(z), y), x)


def score_gradient_health(score: Any, x: Tensor) -> tuple[float, bool]:
    """(fraction of inputs whose input gradient of ``score(x)`` is exactly 0, any NaN/inf gradient).

    The score path of a detector: a quantised or thresholded score has zero gradient almost everywhere
    and silently disarms every detector-aware attack."""
    xr = x.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        s = score(xr)
        if not isinstance(s, Tensor) or not s.requires_grad:
            return 1.0, False
        (g,) = torch.autograd.grad(s.sum(), xr, allow_unused=True)
    if g is None:
        return 1.0, False
    flat = g.flatten(1)
    nan = bool((~torch.isfinite(flat)).any())
    zero = (torch.nan_to_num(flat).abs().amax(1) == 0).double().mean().item()
    return zero, nan


def noise_as_strong(
    attack_accuracy: float | None, noise_accuracy: float | None, clean_accuracy: float | None, n: int
) -> float | None:
    """1.0 if random noise of the same norm and ε beats the attack beyond sampling noise (the attack leaves
    more than :func:`tolerance` more accuracy than noise does): a working attack is never weaker than
    random noise, so the attack is broken. 0.0 otherwise; None when not measurable (noise itself destroys
    accuracy, keeping < :data:`NOISE_MIN_KEPT` of the clean accuracy, or a model near chance).

    EVALUATION.md asks for noise to be *much* weaker than the attack. On a model that is genuinely robust at
    a small ε both leave almost every input correct, so "not much stronger than noise" cannot tell a robust
    model from a broken attack; that case is left to the unbounded-PGD and black-box probes, and this
    indicator flags only the unambiguous failure."""
    if (
        attack_accuracy is None
        or math.isnan(attack_accuracy)
        or noise_accuracy is None
        or math.isnan(noise_accuracy)
        or clean_accuracy is None
        or math.isnan(clean_accuracy)
        or n <= 0
    ):
        return None
    if clean_accuracy <= 0 or noise_accuracy < NOISE_MIN_KEPT * clean_accuracy:
        return None
    if noise_accuracy < 2 * tolerance(noise_accuracy, n):
        return None  # too few correct examples (a model near chance)
    return float(attack_accuracy > noise_accuracy + tolerance(noise_accuracy, n))


def inconclusive_reasons(metrics: dict[str, Any]) -> dict[str, str]:
    """The raised :data:`INCONCLUSIVE` indicators of a case, each with its message (NaN counts as raised;
    None = not measured). A composite (``gradient_masking``) is reported through its raised parts when it
    has some."""
    raised = {
        k: v
        for k, v in inconclusive_fixes().items()
        if metrics.get(k) is not None and (math.isnan(metrics[k]) or metrics[k] > 0)
    }
    for k in list(raised):  # a composite indicator (its declared ``parts``) is reported through them
        if set(METRICS[k].parts) & set(raised):
            del raised[k]
    return raised


def shattered(zero_fraction: float, nan: bool) -> float:
    return float(nan or zero_fraction > ZERO_GRADIENT_MAX_FRACTION)


def gradient_masking(*flags: float | None) -> float | None:
    """1.0 if any flag is set, 0.0 if all measured flags are clear, None if none was measured."""
    measured = [f for f in flags if f is not None]
    return float(any(f > 0 for f in measured)) if measured else None


def recorder(attack: Any, model: nn.Module, x: Tensor, y: Tensor, eps: float, target: Tensor | None) -> Any:
    """An :class:`~robustcheck.indicators.IterateRecorder` for fixed-ε untargeted attacks, else None."""
    if attack.minimization or attack.targeted or isinstance(model, (DefendedLogits, AdaptiveTarget)):
        return None
    if type(attack).gradient_free:
        return None  # query attacks batch internally (torchattacks Square): rows cannot be matched
    if eot_parts(model)[1] > 1:
        # a stochastic target (EOT over a random defence): each forward pass is a fresh random estimate, so
        # "an iterate fooled it, the returned x′ does not" would compare two draws of the noise, not the
        # attack's bookkeeping (found on 003's fresh-noise dvae: raised at every ε). Not applicable: None.
        return None
    if attack.norm not in ("linf", "l2") or eps == 0:
        return None
    return IterateRecorder(model, x, y, eps, attack.norm, attack.batch_size)


def silent_from(rec: Any, returned_fools: Tensor) -> float:
    """1.0 if some iterate the recorder saw fooled the model where the returned x′ does not: the attack's
    own ``success`` of its x′ (untargeted: argmax ≠ y on the model it attacked; no second prediction)."""
    return float(silent_success_count(rec.fooled, returned_fools) > 0)
