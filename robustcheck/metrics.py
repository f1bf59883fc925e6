"""Metrics as pure functions on tensors, exactly as defined in MISSION.md.

Every metric robustcheck reports is declared in :data:`METRICS` with its direction
(``higher_is_better``), so thresholds and regression checks never guess it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from robustcheck.norms import norm_of


@dataclass(frozen=True)
class MetricInfo:
    name: str
    higher_is_better: bool
    description: str


def _m(name: str, higher: bool, desc: str) -> tuple[str, MetricInfo]:
    return name, MetricInfo(name, higher, desc)


METRICS: dict[str, MetricInfo] = dict(
    [
        _m("clean_accuracy", True, "mean[C(x) = y]"),
        _m("defended_clean_accuracy", True, "mean[pred_D(x) = y]"),
        _m("clean_accuracy_drop", False, "clean_accuracy - defended_clean_accuracy"),
        _m("adversarial_accuracy", True, "mean[C(x') = y], no defence"),
        _m("corrected_accuracy", True, "mean[pred_D(x') = y]"),
        _m("detection_auc", True, "ROC AUC of S: clean x (neg) vs successful x' (pos)"),
        _m("detection_auc_all", True, "ROC AUC of S: clean x (neg) vs every x' (pos)"),
        _m(
            "auc_all_from_chance", False, "|detection_auc_all - 0.5|: gates 'random noise is not adversarial'"
        ),
        _m("n_successful", True, "number of successful x' (C(x)=y and C(x')!=y)"),
        _m("tpr_at_fpr", True, "fraction of successful x' with S > t"),
        _m("false_positive_rate", False, "fraction of clean test x with S > t"),
        _m("defended_rate", True, "mean[S(x') > t or pred_D(x') = y]"),
        _m("attack_success_rate", False, "successful x' / correctly classified x (targeted: C(x') = target)"),
        _m("misclassification_rate", False, "x' with C(x') != y / correctly classified x (= ASR untargeted)"),
        _m("threshold", True, "score threshold t set on the clean validation split"),
        _m("l0_mean", False, "mean L0 norm of x'-x"),
        _m("l0_max", False, "max L0 norm of x'-x"),
        _m("l1_mean", False, "mean L1 norm of x'-x"),
        _m("l1_max", False, "max L1 norm of x'-x"),
        _m("l2_mean", False, "mean L2 norm of x'-x"),
        _m("l2_max", False, "max L2 norm of x'-x"),
        _m("linf_mean", False, "mean L∞ norm of x'-x"),
        _m("linf_max", False, "max L∞ norm of x'-x"),
        _m("budget_violations", False, "x' outside the ε budget, [0,1] or non-finite (must be 0)"),
    ]
)


def register_metric(name: str, *, higher_is_better: bool, description: str = "") -> MetricInfo:
    """Declare a new metric (e.g. one added by the ``pytest_robustcheck_metrics`` hook) with its direction."""
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"metric name must be an identifier, got {name!r}")
    if not isinstance(higher_is_better, bool):
        raise ValueError(f"metric {name!r}: higher_is_better must be True or False")
    existing = METRICS.get(name)
    if existing is not None and existing.higher_is_better != higher_is_better:
        raise ValueError(
            f"metric {name!r} is already declared with higher_is_better={existing.higher_is_better}"
        )
    METRICS[name] = MetricInfo(name, higher_is_better, description)
    return METRICS[name]


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


# --- detector-aware success, worst case over a family, attack-failure indicators (issue 6) -------------
for _name, _higher, _desc in [
    (
        "adaptive_success_rate",
        False,
        (
            "x' misclassified by the defence AND not flagged AND within budget, "
            "over correctly classified x (detector-aware success)"
        ),
    ),
    (
        "worst_case_corrected_accuracy",
        True,
        "mean over x of [pred_D(x'_a) = y for every attack a of the family]",
    ),
    (
        "worst_case_defended_rate",
        True,
        "mean over x of [x'_a flagged or pred_D(x'_a) = y for every attack a]",
    ),
    (
        "silent_success",
        False,
        (
            "1 if an iterate within budget fooled the attacked model but the returned x' "
            "does not (best iterate lost)"
        ),
    ),
    (
        "eps_nonmonotone",
        False,
        (
            "1 if corrected_accuracy is higher (for a detector: adaptive_success_rate lower) "
            "than at the next smaller ε of the same attack"
        ),
    ),
    (
        "iterative_weaker",
        False,
        (
            "1 if the iterative attack leaves a higher corrected_accuracy (for a detector: a "
            "lower adaptive_success_rate) than its single-step version (PGD/BIM vs FGSM)"
        ),
    ),
    (
        "adaptive_weaker",
        False,
        (
            "1 if a detector-aware attack leaves a higher defended_rate than detector-oblivious "
            "PGD at the same ε and FPR (white-box)"
        ),
    ),
    (
        "oblivious_defended_rate",
        True,
        "defended_rate of detector-oblivious PGD at the case's ε (white-box detectors)",
    ),
    (
        "noise_accuracy",
        True,
        "accuracy of the attacked model under uniform random noise of the case's norm and ε",
    ),
    (
        "noise_as_strong",
        False,
        "1 if random noise of the same norm and ε beats the attack beyond sampling noise",
    ),
    ("indicators_off", False, "1 if the suite switched the integrity checks off (Suite(indicators=False))"),
    (
        "zero_score_gradient_fraction",
        False,
        "fraction of inputs whose input gradient of the detector score is 0",
    ),
    (
        "shattered_score_gradients",
        False,
        "1 if input gradients of the detector score are zero or NaN (white-box)",
    ),
    (
        "zero_gradient_fraction",
        False,
        "fraction of inputs whose input gradient through the attacked model is 0",
    ),
    ("shattered_gradients", False, "1 if input gradients through the attacked model are zero or NaN"),
    ("unbounded_accuracy", False, "accuracy of the attacked model under PGD with an unbounded budget"),
    ("unbounded_not_zero", False, "1 if unbounded PGD leaves the attacked model > 10 % accurate"),
    ("blackbox_accuracy", False, "accuracy of the attacked model under Square at the case's ε"),
    ("blackbox_beats_whitebox", False, "1 if Square beats the gradient attack on the same model and ε"),
    (
        "gradient_masking",
        False,
        (
            "1 if any of shattered_gradients, shattered_score_gradients, unbounded_not_zero, "
            "blackbox_beats_whitebox"
        ),
    ),
]:
    register_metric(_name, higher_is_better=_higher, description=_desc)
