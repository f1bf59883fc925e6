"""Metrics as pure functions on tensors, exactly as defined in MISSION.md, and the one declaration of
every metric robustcheck reports.

Each metric is declared once, in :data:`METRICS`, as a :class:`MetricInfo`: its direction
(``higher_is_better``, so thresholds and regression checks never guess it), its range, which cases have it,
how it is shown (table column, flag, Markdown summary), its default regression tolerance, the fix named when
it makes a case inconclusive and, for the base metrics of one case, how it is computed from the case's
:class:`Outcome`. Everything else reads these declarations: the engine computes the base metrics by looping
over them, :mod:`robustcheck.report` builds its columns and flags from them, :mod:`robustcheck.history` its
default tolerances, :mod:`robustcheck.validation` its ranges and applicability rules and
:mod:`robustcheck.indicators` its inconclusive indicators. Metrics measured elsewhere (the integrity
probes, the worst case of a family: :mod:`robustcheck.probes`) are declared here too, without ``compute``.

This is a base-layer module: it imports only torch, the standard library, :mod:`robustcheck.errors` and
:mod:`robustcheck.norms`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import torch
from torch import Tensor

from robustcheck.norms import norm_of

#: (lowest, highest) value of a metric; None where unbounded.
Range = tuple[float | None, float | None]
UNIT: Range = (0.0, 1.0)
NONNEG: Range = (0.0, None)


@dataclass(frozen=True, eq=False)
class Outcome:
    """What one case's base metrics are functions of: the predictions, detector scores and adversarial
    examples of one attack on one defence (built by :meth:`robustcheck.engine.Engine.compute_metrics`)."""

    y: Tensor  #: true labels
    pred: Tensor  #: C(x), the undefended classifier on the clean inputs
    defended_pred: Tensor  #: pred_D(x), the defended pipeline on the clean inputs
    adv_pred: Tensor  #: C(x′)
    defended_adv_pred: Tensor  #: pred_D(x′)
    clean_scores: Tensor | None  #: S(x), detector scores (None: no score)
    adv_scores: Tensor | None  #: S(x′)
    threshold: float | None  #: the detector's threshold t (None: not a detector)
    success: Tensor  #: successful x′: C(x) = y and C(x′) ≠ y (:func:`success_mask`)
    x: Tensor
    x_adv: Tensor
    eps: float
    norm: str
    target: Tensor | None = None  #: target classes of a targeted attack

    @property
    def detected(self) -> bool:
        """A detector with a threshold and scores: the detector metrics are defined (else None)."""
        return self.threshold is not None and self.clean_scores is not None and self.adv_scores is not None

    @cached_property
    def norms(self) -> dict[str, float]:
        """:func:`perturbation_norms` of ``x_adv - x`` (computed once for the eight norm metrics)."""
        return perturbation_norms(self.x, self.x_adv)


#: How a base metric is computed from one case's :class:`Outcome` (None: not defined for this case).
Compute = Callable[[Outcome], float | None]


@dataclass(frozen=True)
class MetricInfo:
    """The declaration of one metric. Only ``name`` and ``higher_is_better`` are required.

    Shown: ``column`` (short header in the results table; the table's metric columns are the declared
    metrics with a column, in declaration order), ``family_column`` (on family rows this column shows that
    metric instead), ``summary`` (a column of the Markdown summary), ``default_delta`` (in the Δ-vs-baseline
    column when no tolerance is set), ``flag`` (short name in the flags column: an integrity indicator,
    raised when not 0), ``count`` (shown as an integer).

    Gating: ``tolerance`` (default regression tolerance written into a new baseline; None: not gated by
    default), ``inconclusive`` (the fix named when the raised indicator makes a case inconclusive; None:
    it does not), ``parts`` (a composite indicator: raised with any of these, and reported through them).

    Which cases have it: ``detector_only`` (a detector defence with a threshold), ``family_only`` (the
    worst case over a family: family cases only), ``on_family_cases`` (family cases have it too),
    ``suite_indicators`` (True: an integrity probe, absent with ``Suite(indicators=False)``; False: only
    with it; None: either), ``not_black_box`` (grey- or white-box only), ``white_box_only``.

    ``compute``: the metric as a function of one case's :class:`Outcome` (the engine's base metrics);
    None for metrics measured elsewhere (probes, families, hooks).
    """

    name: str
    higher_is_better: bool
    description: str = ""
    range: Range = (None, None)
    column: str | None = None
    family_column: str | None = None
    summary: bool = False
    default_delta: bool = False
    flag: str | None = None
    count: bool = False
    tolerance: float | None = None
    inconclusive: str | None = None
    parts: tuple[str, ...] = ()
    detector_only: bool = False
    family_only: bool = False
    on_family_cases: bool = False
    suite_indicators: bool | None = None
    not_black_box: bool = False
    white_box_only: bool = False
    compute: Compute | None = None


# ---------------------------------------------------------------------------- pure metric functions
def accuracy(pred: Tensor, y: Tensor) -> float:
    """Fraction of ``pred == y``; NaN for empty input."""
    if pred.numel() == 0:
        return math.nan
    return (pred.view(-1) == y.view(-1)).double().mean().item()


def roc_auc(negatives: Tensor, positives: Tensor) -> float:
    """ROC AUC of scores where higher means positive (Mann–Whitney U with mid-ranks for ties).

    Returns NaN when either class is empty. Equal to ``sklearn.metrics.roc_auc_score``.
    """
    neg = negatives.detach().double().view(-1).cpu()
    pos = positives.detach().double().view(-1).cpu()
    n_neg, n_pos = neg.numel(), pos.numel()
    if n_neg == 0 or n_pos == 0:
        return math.nan
    scores = torch.cat([neg, pos])
    ranks = _midranks(scores)
    rank_sum_pos = ranks[n_neg:].sum().item()
    u = rank_sum_pos - n_pos * (n_pos + 1) / 2.0
    return u / (n_neg * n_pos)


def _midranks(values: Tensor) -> Tensor:
    """1-based ranks with ties given their average rank."""
    sorted_vals, order = torch.sort(values, stable=True)
    n = values.numel()
    ranks_sorted = torch.arange(1, n + 1, dtype=torch.float64)
    # group equal values and assign the mean rank of the group
    _, inverse, counts = torch.unique_consecutive(sorted_vals, return_inverse=True, return_counts=True)
    group_end = torch.cumsum(counts, 0).double()
    group_mean = group_end - (counts.double() - 1) / 2.0
    ranks_sorted = group_mean[inverse]
    ranks = torch.empty(n, dtype=torch.float64)
    ranks[order] = ranks_sorted
    return ranks


def threshold_at_fpr(clean_scores: Tensor, fpr: float) -> float:
    """Smallest threshold t such that at most ``fpr`` of ``clean_scores`` satisfy S > t."""
    if not 0.0 <= fpr < 1.0:
        raise ValueError(f"fpr must be in [0, 1), got {fpr}")
    s = torch.sort(clean_scores.detach().double().view(-1).cpu()).values
    n = s.numel()
    if n == 0:
        raise ValueError("cannot set a threshold on an empty set of clean scores")
    allowed = math.floor(fpr * n + 1e-9)  # number of clean points allowed above t
    return s[n - 1 - allowed].item()


def rate_above(scores: Tensor, threshold: float) -> float:
    """Fraction of ``scores`` strictly above ``threshold`` (NaN when empty)."""
    if scores.numel() == 0:
        return math.nan
    return (scores.view(-1) > threshold).double().mean().item()


def success_mask(clean_pred: Tensor, adv_pred: Tensor, y: Tensor) -> Tensor:
    """Successful adversarial examples: C(x) = y and C(x') != y."""
    return (clean_pred == y) & (adv_pred != y)


def attack_success_rate(
    clean_pred: Tensor, adv_pred: Tensor, y: Tensor, target: Tensor | None = None
) -> float:
    """Over the correctly classified x: the fraction with C(x′) ≠ y, or, for a targeted attack
    (``target`` given), with C(x′) = target (a misclassification into another class is no success)."""
    correct = clean_pred == y
    if int(correct.sum()) == 0:
        return math.nan
    hit = success_mask(clean_pred, adv_pred, y) if target is None else correct & (adv_pred == target)
    return (hit.sum() / correct.sum()).item()


def defended_rate(
    adv_scores: Tensor | None, threshold: float | None, defended_pred: Tensor, y: Tensor
) -> float:
    """MagNet convention: x' is defended when flagged (S > t) or classified correctly."""
    ok = defended_pred == y
    if adv_scores is not None and threshold is not None:
        ok = ok | (adv_scores.view(-1) > threshold)
    return ok.double().mean().item()


def perturbation_norms(x: Tensor, x_adv: Tensor) -> dict[str, float]:
    """Mean and max of the L0, L1, L2 and L∞ norms of ``x_adv - x`` per example."""
    d = (x_adv - x).detach().flatten(1).double()
    norms = {
        "l0": (d.abs() > 1e-8).sum(1).double(),
        "l1": d.abs().sum(1),
        "l2": d.norm(p=2, dim=1),
        "linf": d.abs().amax(1) if d.shape[1] else torch.zeros(d.shape[0], dtype=torch.float64),
    }
    out: dict[str, float] = {}
    for k, v in norms.items():
        out[f"{k}_mean"] = v.mean().item() if v.numel() else math.nan
        out[f"{k}_max"] = v.max().item() if v.numel() else math.nan
    return out


def adaptive_success_rate(
    x: Tensor,
    x_adv: Tensor,
    y: Tensor,
    pred: Tensor,
    d_adv: Tensor,
    s_adv: Tensor | None,
    t: float | None,
    eps: float,
    norm: str,
) -> float:
    """Detector-aware success: pred_D(x′) ≠ y, S(x′) ≤ t, x′ within budget; over x with C(x) = y."""
    correct = pred == y
    if int(correct.sum()) == 0:
        return float("nan")
    ok = d_adv != y
    if s_adv is not None and t is not None:
        ok = ok & (s_adv <= t)
    d = torch.nan_to_num(x_adv - x)
    slack = 1e-5 if norm == "linf" else 1e-5 * max(1.0, eps)
    within = (norm_of(d, norm) <= eps + slack) if norm in ("linf", "l2", "l1", "l0") else torch.ones_like(ok)
    ok = ok & within & torch.isfinite(x_adv).flatten(1).all(1)
    return ((ok & correct).sum() / correct.sum()).item()


def budget_violations(x: Tensor, x_adv: Tensor, eps: float | None, norm: str, tol: float = 1e-5) -> int:
    """Number of x' outside the ε-ball (relative tolerance for L1/L2), outside [0, 1] or non-finite."""
    finite = torch.isfinite(x_adv).flatten(1).all(1)
    in_box = ((x_adv >= -tol) & (x_adv <= 1 + tol)).flatten(1).all(1)
    ok = finite & in_box
    if eps is not None:
        n = norm_of(torch.nan_to_num(x_adv - x), norm)
        slack = tol if norm == "linf" else tol * max(1.0, eps)
        ok = ok & (n <= eps + slack)
    return int((~ok).sum())


# ---------------------------------------------------------------------------- how base metrics are computed
def _if_detector(fn: Callable[[Outcome, Tensor, Tensor, float], float]) -> Compute:
    """A detector metric: ``fn(outcome, S(x), S(x′), t)``, None without a detector threshold and scores."""

    def compute(o: Outcome) -> float | None:
        if o.threshold is None or o.clean_scores is None or o.adv_scores is None:
            return None
        return fn(o, o.clean_scores, o.adv_scores, o.threshold)

    return compute


def _norm(key: str) -> Compute:
    return lambda o: o.norms[key]


def _defended_rate(o: Outcome) -> float:
    if o.detected:
        return defended_rate(o.adv_scores, o.threshold, o.defended_adv_pred, o.y)
    return defended_rate(None, None, o.defended_adv_pred, o.y)


# ---------------------------------------------------------------------------- the declarations
_MASKED_FIX = (
    "use BPDA (`differentiable = False` + `bpda_surrogate`), EOT (`stochastic = True`) or a "
    "surrogate / transfer attack"
)
_GRADIENT_MASKING_PARTS = (
    "shattered_gradients",
    "shattered_score_gradients",
    "unbounded_not_zero",
    "blackbox_beats_whitebox",
)

_DECLARED = [
    # --- base metrics of one case (Engine.compute_metrics), in table-column order
    MetricInfo(
        "clean_accuracy",
        True,
        "mean[C(x) = y]",
        range=UNIT,
        column="clean",
        summary=True,
        on_family_cases=True,
        compute=lambda o: accuracy(o.pred, o.y),
    ),
    MetricInfo(
        "defended_clean_accuracy",
        True,
        "mean[pred_D(x) = y]",
        range=UNIT,
        column="def.clean",
        tolerance=0.01,
        on_family_cases=True,
        compute=lambda o: accuracy(o.defended_pred, o.y),
    ),
    MetricInfo(
        "clean_accuracy_drop",
        False,
        "clean_accuracy - defended_clean_accuracy",
        range=(-1.0, 1.0),
        compute=lambda o: accuracy(o.pred, o.y) - accuracy(o.defended_pred, o.y),
    ),
    MetricInfo(
        "adversarial_accuracy",
        True,
        "mean[C(x') = y], no defence",
        range=UNIT,
        column="adv",
        compute=lambda o: accuracy(o.adv_pred, o.y),
    ),
    MetricInfo(
        "corrected_accuracy",
        True,
        "mean[pred_D(x') = y]",
        range=UNIT,
        column="corrected",
        family_column="worst_case_corrected_accuracy",
        summary=True,
        default_delta=True,
        tolerance=0.02,
        compute=lambda o: accuracy(o.defended_adv_pred, o.y),
    ),
    MetricInfo(
        "detection_auc",
        True,
        "ROC AUC of S: clean x (neg) vs successful x' (pos)",
        range=UNIT,
        column="AUC",
        summary=True,
        default_delta=True,
        tolerance=0.02,
        detector_only=True,
        compute=_if_detector(lambda o, s, s_adv, t: roc_auc(s, s_adv[o.success])),
    ),
    MetricInfo(
        "detection_auc_all",
        True,
        "ROC AUC of S: clean x (neg) vs every x' (pos)",
        range=UNIT,
        detector_only=True,
        compute=_if_detector(lambda o, s, s_adv, t: roc_auc(s, s_adv)),
    ),
    MetricInfo(
        "auc_all_from_chance",
        False,
        "|detection_auc_all - 0.5|: gates 'random noise is not adversarial'",
        range=(0.0, 0.5),
        detector_only=True,
        compute=_if_detector(lambda o, s, s_adv, t: abs(roc_auc(s, s_adv) - 0.5)),
    ),
    MetricInfo(
        "n_successful",
        True,
        "number of successful x' (C(x)=y and C(x')!=y)",
        range=NONNEG,
        column="n_succ",
        count=True,
        compute=lambda o: float(o.success.sum()),
    ),
    MetricInfo(
        "tpr_at_fpr",
        True,
        "fraction of successful x' with S > t",
        range=UNIT,
        column="TPR@t",
        detector_only=True,
        compute=_if_detector(lambda o, s, s_adv, t: rate_above(s_adv[o.success], t)),
    ),
    MetricInfo(
        "false_positive_rate",
        False,
        "fraction of clean test x with S > t",
        range=UNIT,
        column="FPR",
        detector_only=True,
        compute=_if_detector(lambda o, s, s_adv, t: rate_above(s, t)),
    ),
    MetricInfo(
        "defended_rate",
        True,
        "mean[S(x') > t or pred_D(x') = y]",
        range=UNIT,
        column="defended",
        family_column="worst_case_defended_rate",
        summary=True,
        tolerance=0.02,
        compute=_defended_rate,
    ),
    MetricInfo(
        "attack_success_rate",
        False,
        "successful x' / correctly classified x (targeted: C(x') = target)",
        range=UNIT,
        column="ASR",
        summary=True,
        compute=lambda o: attack_success_rate(o.pred, o.adv_pred, o.y, o.target),
    ),
    MetricInfo(
        "misclassification_rate",
        False,
        "x' with C(x') != y / correctly classified x (= ASR untargeted)",
        range=UNIT,
        compute=lambda o: attack_success_rate(o.pred, o.adv_pred, o.y),
    ),
    MetricInfo(
        "threshold",
        True,
        "score threshold t set on the clean validation split",
        detector_only=True,
        compute=_if_detector(lambda o, s, s_adv, t: t),
    ),
    MetricInfo("linf_mean", False, "mean L∞ norm of x'-x", range=NONNEG, compute=_norm("linf_mean")),
    MetricInfo(
        "linf_max", False, "max L∞ norm of x'-x", range=NONNEG, column="L∞max", compute=_norm("linf_max")
    ),
    MetricInfo(
        "l2_mean", False, "mean L2 norm of x'-x", range=NONNEG, column="L2mean", compute=_norm("l2_mean")
    ),
    MetricInfo("l2_max", False, "max L2 norm of x'-x", range=NONNEG, compute=_norm("l2_max")),
    MetricInfo("l1_mean", False, "mean L1 norm of x'-x", range=NONNEG, compute=_norm("l1_mean")),
    MetricInfo("l1_max", False, "max L1 norm of x'-x", range=NONNEG, compute=_norm("l1_max")),
    MetricInfo("l0_mean", False, "mean L0 norm of x'-x", range=NONNEG, compute=_norm("l0_mean")),
    MetricInfo("l0_max", False, "max L0 norm of x'-x", range=NONNEG, compute=_norm("l0_max")),
    MetricInfo(
        "budget_violations",
        False,
        "x' outside the ε budget, [0,1] or non-finite (must be 0)",
        range=NONNEG,
        flag="budget",
        count=True,
        on_family_cases=True,
        compute=lambda o: float(budget_violations(o.x, o.x_adv, o.eps, o.norm)),
    ),
    MetricInfo(
        "adaptive_success_rate",
        False,
        (
            "x' misclassified by the defence AND not flagged AND within budget, "
            "over correctly classified x (detector-aware success)"
        ),
        range=UNIT,
        compute=lambda o: adaptive_success_rate(
            o.x, o.x_adv, o.y, o.pred, o.defended_adv_pred, o.adv_scores, o.threshold, o.eps, o.norm
        ),
    ),
    # --- the worst case over a family of attacks (robustcheck.probes.family_metrics)
    MetricInfo(
        "worst_case_corrected_accuracy",
        True,
        "mean over x of [pred_D(x'_a) = y for every attack a of the family]",
        range=UNIT,
        family_only=True,
    ),
    MetricInfo(
        "worst_case_defended_rate",
        True,
        "mean over x of [x'_a flagged or pred_D(x'_a) = y for every attack a]",
        range=UNIT,
        family_only=True,
    ),
    # --- attack-failure indicators (robustcheck.indicators; measured by robustcheck.probes, silent_success
    # by the engine), in the order of the flags column
    MetricInfo(
        "silent_success",
        False,
        (
            "1 if an iterate within budget fooled the attacked model but the returned x' "
            "does not (best iterate lost)"
        ),
        range=UNIT,
        flag="silent",
        inconclusive=(
            "an iterate fooled the model but the attack returned another point: return the best iterate"
        ),
    ),
    MetricInfo(
        "eps_nonmonotone",
        False,
        (
            "1 if corrected_accuracy is higher (for a detector: adaptive_success_rate lower) "
            "than at the next smaller ε of the same attack"
        ),
        range=UNIT,
        flag="eps-nonmono",
        inconclusive=(
            "the attack gets weaker as ε grows: the attack is failing (masked gradients, too few "
            "steps, bad step size)"
        ),
        suite_indicators=True,
    ),
    MetricInfo(
        "iterative_weaker",
        False,
        (
            "1 if the iterative attack leaves a higher corrected_accuracy (for a detector: a "
            "lower adaptive_success_rate) than its single-step version (PGD/BIM vs FGSM)"
        ),
        range=UNIT,
        flag="iter<1step",
        inconclusive=(
            "the iterative attack is weaker than its single-step version: more steps, another "
            "step size, or BPDA/EOT if gradients are masked"
        ),
        suite_indicators=True,
    ),
    MetricInfo(
        "unbounded_accuracy",
        False,
        "accuracy of the attacked model under PGD with an unbounded budget",
        range=UNIT,
        suite_indicators=True,
        not_black_box=True,
    ),
    MetricInfo(
        "unbounded_not_zero",
        False,
        "1 if unbounded PGD leaves the attacked model > 10 % accurate",
        range=UNIT,
        flag="unbounded>0",
        inconclusive=f"unbounded PGD does not reach ~0 % accuracy: gradients are masked; {_MASKED_FIX}",
        suite_indicators=True,
        not_black_box=True,
    ),
    MetricInfo(
        "blackbox_accuracy",
        False,
        "accuracy of the attacked model under Square at the case's ε, on the probe rows Square ran on "
        "(blackbox_rows: the first 16, or all 64 where Square is ahead of the gradient attack on those 16)",
        range=UNIT,
        suite_indicators=True,
        not_black_box=True,
    ),
    MetricInfo(
        "blackbox_rows",
        True,
        "test inputs the Square probe ran on (16, or 64 when it was ahead on the first 16)",
        range=(0.0, math.inf),
        suite_indicators=True,
        not_black_box=True,
    ),
    MetricInfo(
        "blackbox_beats_whitebox",
        False,
        "1 if Square beats the gradient attack on the same model and ε",
        range=UNIT,
        flag="bb>wb",
        inconclusive=f"gradient-free Square beats the gradient attack: gradients are masked; {_MASKED_FIX}",
        suite_indicators=True,
        not_black_box=True,
    ),
    MetricInfo(
        "zero_gradient_fraction",
        False,
        "fraction of inputs whose input gradient through the attacked model is 0",
        range=UNIT,
        suite_indicators=True,
        not_black_box=True,
    ),
    MetricInfo(
        "shattered_gradients",
        False,
        "1 if input gradients through the attacked model are zero or NaN",
        range=UNIT,
        flag="shattered",
        inconclusive=(
            "zero/NaN input gradients through the attacked model: if a step is not "
            "differentiable declare `differentiable = False` and give a `bpda_surrogate` (BPDA); "
            "if it is random declare `stochastic = True` (EOT); or attack through a surrogate / "
            "transfer"
        ),
        suite_indicators=True,
        not_black_box=True,
    ),
    MetricInfo(
        "zero_score_gradient_fraction",
        False,
        "fraction of inputs whose input gradient of the detector score is 0",
        range=UNIT,
        detector_only=True,
        suite_indicators=True,
        not_black_box=True,
        white_box_only=True,
    ),
    MetricInfo(
        "shattered_score_gradients",
        False,
        "1 if input gradients of the detector score are zero or NaN (white-box)",
        range=UNIT,
        flag="score-shattered",
        inconclusive=(
            "zero/NaN input gradients of the detector score: detector-aware attacks cannot "
            "descend it; make `score` differentiable (a smooth surrogate of the "
            "non-differentiable step, BPDA) or declare `stochastic = True` (EOT) if it is "
            "random"
        ),
        detector_only=True,
        suite_indicators=True,
        not_black_box=True,
        white_box_only=True,
    ),
    MetricInfo(
        "oblivious_defended_rate",
        True,
        "defended_rate of detector-oblivious PGD at the case's ε (white-box detectors)",
        range=UNIT,
        detector_only=True,
        suite_indicators=True,
        not_black_box=True,
        white_box_only=True,
    ),
    MetricInfo(
        "whitebox_weaker",
        False,
        (
            "1 if the white-box attack is weaker than the same attack crafted on the classifier alone "
            "(its grey-box case) beyond sampling noise: a higher corrected_accuracy, or for a "
            "detector-aware attack on a detector a lower adaptive_success_rate"
        ),
        range=UNIT,
        flag="wb<gb",
        inconclusive=(
            "the white-box attack is weaker than the same attack crafted on the classifier alone "
            "(grey-box), which a white-box attacker can always play: the white-box attack failed "
            "(a gradient through a flag-selected or flat path), not the defence strong; report the "
            "grey-box number, or use a detector-aware attack, BPDA or more steps"
        ),
        suite_indicators=True,
        not_black_box=True,
        white_box_only=True,
    ),
    MetricInfo(
        "adaptive_weaker",
        False,
        (
            "1 if a detector-aware attack leaves a higher defended_rate than detector-oblivious "
            "PGD at the same ε and FPR (white-box)"
        ),
        range=UNIT,
        flag="adaptive<oblivious",
        inconclusive=(
            "the detector-aware attack is weaker than detector-oblivious PGD at the same ε and FPR: "
            "the adaptive attack is broken (loss weighting, steps), not the detector strong"
        ),
        detector_only=True,
        suite_indicators=True,
        not_black_box=True,
        white_box_only=True,
    ),
    MetricInfo(
        "noise_accuracy",
        True,
        "accuracy of the attacked model under uniform random noise of the case's norm and ε",
        range=UNIT,
        suite_indicators=True,
        not_black_box=True,
    ),
    MetricInfo(
        "noise_as_strong",
        False,
        "1 if random noise of the same norm and ε beats the attack beyond sampling noise",
        range=UNIT,
        flag="noise>=attack",
        inconclusive="random noise of the same norm and ε is stronger than the attack: the attack is broken",
        suite_indicators=True,
        not_black_box=True,
    ),
    MetricInfo(
        "gradient_masking",
        False,
        "1 if any of " + ", ".join(_GRADIENT_MASKING_PARTS),
        range=UNIT,
        inconclusive="gradient masking (see its parts)",
        parts=_GRADIENT_MASKING_PARTS,
        suite_indicators=True,
        not_black_box=True,
    ),
    MetricInfo(
        "indicators_off",
        False,
        "1 if the suite switched the integrity checks off (Suite(indicators=False))",
        range=UNIT,
        flag="checks-off",
        suite_indicators=False,
    ),
]

#: Every metric robustcheck reports, by name, in declaration order (user metrics: :func:`register_metric`).
METRICS: dict[str, MetricInfo] = {m.name: m for m in _DECLARED}
if len(METRICS) != len(_DECLARED):  # pragma: no cover - a metric is declared in one place, once
    raise RuntimeError("a metric is declared twice in robustcheck.metrics")


def register_metric(
    name: str,
    *,
    higher_is_better: bool,
    description: str = "",
    range: Range | None = None,
    column: str | None = None,
    tolerance: float | None = None,
    flag: str | None = None,
    inconclusive: str | None = None,
) -> MetricInfo:
    """Declare a new metric (e.g. one added by the ``pytest_robustcheck_metrics`` hook) with its direction,
    and optionally its ``range`` (lo, hi; None = unbounded), a results-table ``column`` (appended after the
    declared ones), a default regression ``tolerance``, a ``flag`` in the flags column (an indicator, raised
    when not 0) and the ``inconclusive`` fix message (a raised indicator then makes the case inconclusive).

    Declaring an existing metric again with the same direction updates only the fields given."""
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"metric name must be an identifier, got {name!r}")
    if not isinstance(higher_is_better, bool):
        raise ValueError(f"metric {name!r}: higher_is_better must be True or False")
    existing = METRICS.get(name)
    if existing is not None and existing.higher_is_better != higher_is_better:
        raise ValueError(
            f"metric {name!r} is already declared with higher_is_better={existing.higher_is_better}"
        )
    for field, value in (("column", column), ("flag", flag), ("inconclusive", inconclusive)):
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise ValueError(f"metric {name!r}: {field} must be a non-empty string, got {value!r}")
    if tolerance is not None:
        ok = isinstance(tolerance, (int, float)) and not isinstance(tolerance, bool)
        if not ok or not math.isfinite(tolerance) or tolerance < 0:
            raise ValueError(f"metric {name!r}: tolerance must be a finite number >= 0, got {tolerance!r}")
    base = existing if existing is not None else MetricInfo(name, higher_is_better)
    METRICS[name] = dataclasses.replace(
        base,
        description=description or base.description,
        range=base.range if range is None else _check_range(name, range),
        column=base.column if column is None else column,
        tolerance=base.tolerance if tolerance is None else float(tolerance),
        flag=base.flag if flag is None else flag,
        inconclusive=base.inconclusive if inconclusive is None else inconclusive,
    )
    return METRICS[name]


def _check_range(name: str, value: object) -> Range:
    bounds = tuple(value) if isinstance(value, (tuple, list)) else ()
    ok = len(bounds) == 2 and all(
        b is None or (isinstance(b, (int, float)) and not isinstance(b, bool) and math.isfinite(b))
        for b in bounds
    )
    lo, hi = bounds if ok else (None, None)
    if not ok or (lo is not None and hi is not None and lo > hi):
        raise ValueError(
            f"metric {name!r}: range must be (lo, hi), numbers or None with lo <= hi, got {value!r}"
        )
    return (None if lo is None else float(lo), None if hi is None else float(hi))


def inconclusive_fixes() -> dict[str, str]:
    """The indicators that make a case inconclusive when raised, each with the fix it names (declaration
    order; :attr:`MetricInfo.inconclusive`)."""
    return {m.name: m.inconclusive for m in METRICS.values() if m.inconclusive is not None}
