"""Evaluating one case: its metrics (the engine's base metrics, or a family's worst case), its integrity
indicators (:mod:`robustcheck.probes`), stored on disk so that an unchanged case is not recomputed, then
its bars and inconclusive indicators checked into a :class:`CaseResult`.

    >>> from robustcheck.engine import Engine
    >>> from robustcheck.evaluate import evaluate
    >>> result = evaluate(Engine(scale="smoke"), suite.cases()[0])  # doctest: +SKIP
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from torch import Tensor

from robustcheck import probes
from robustcheck.attacks import ATTACKS
from robustcheck.cache import content_key
from robustcheck.engine import GALLERY_KEYS, PER_SAMPLE_KEYS, Engine
from robustcheck.errors import ConfigError
from robustcheck.indicators import inconclusive_reasons
from robustcheck.suite import Bar, Case, FamilyCase


@dataclass
class CaseResult:
    case_id: str
    suite: str
    metrics: dict[str, float | None]
    bars: dict[str, Bar]
    failures: list[str] = field(default_factory=list)
    scores: dict[str, Tensor] = field(default_factory=dict)  # detector scores: clean, adv, successful
    #: per-sample results and gallery images (non-family cases): Engine.base_case, in the run record's
    #: companion file (RobustcheckSession.case_arrays)
    samples: dict[str, Tensor] = field(default_factory=dict)
    #: raised integrity indicators (robustcheck.indicators.INCONCLUSIVE) -> message naming the fix
    inconclusive: dict[str, str] = field(default_factory=dict)
    #: the raised ones the suite allows (Thresholds(allow_inconclusive=...)); the others are in failures
    inconclusive_allowed: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures

    @property
    def status(self) -> str:
        """``passed``, ``failed`` (bars), ``inconclusive`` (raised indicators, not allowed: fails) or
        ``inconclusive-allowed`` (raised indicators the suite allows; passes unless a bar fails)."""
        if self.inconclusive and set(self.inconclusive) - set(self.inconclusive_allowed):
            return "inconclusive"
        if self.failures:
            return "failed"
        return "inconclusive-allowed" if self.inconclusive else "passed"


def _check_case_entry(obj: Any) -> None:
    """A stored case: metric values (floats or None), score and per-sample tensors, and at least one
    metric."""
    if not isinstance(obj, dict) or not any(isinstance(k, str) and k.startswith("m:") for k in obj):
        raise TypeError("not a stored case (no metrics)")
    for k, v in obj.items():
        if k.startswith("m:") and not (v is None or isinstance(v, float)):
            raise TypeError(f"metric {k[2:]!r} is {type(v).__name__}")
        if k.startswith(("s:", "p:")) and not isinstance(v, Tensor):
            raise TypeError(f"scores {k[2:]!r} are {type(v).__name__}")


def _check_single_case_entry(obj: Any) -> None:
    """A stored (non-family) case: :func:`_check_case_entry` and every per-sample array (an entry without
    them is dropped and recomputed, so that a warm run writes them too)."""
    _check_case_entry(obj)
    missing = [k for k in (*PER_SAMPLE_KEYS, *GALLERY_KEYS[:3]) if f"p:{k}" not in obj]
    if missing:
        raise TypeError(f"no per-sample {', '.join(missing)}")


def evaluate(
    engine: Engine, case: Case, postprocess: Callable[[dict[str, Any]], None] | None = None
) -> CaseResult:
    """Evaluate one case; ``postprocess(metrics)`` may edit the metrics before the bars are checked."""
    scores: dict[str, Tensor] = {}
    samples: dict[str, Tensor] = {}
    _check_eps(engine, case)
    if isinstance(case, FamilyCase):
        metrics = _stored_family(engine, case)
    else:
        metrics, scores, samples = _stored_case(engine, case)
    if postprocess is not None:
        postprocess(metrics)
    bars = case.bars(engine.scale_name)
    # raised integrity indicators make the case inconclusive: it fails unless the suite allows them
    reasons = inconclusive_reasons(metrics)
    allowed = case.allowed_inconclusive(engine.scale_name)
    failures = check_bars(metrics, bars) + [
        f"INCONCLUSIVE: {k} = {_fmt_flag(metrics.get(k))}: {msg}"
        for k, msg in reasons.items()
        if k not in allowed
    ]
    return CaseResult(
        case.id,
        case.suite.name,
        metrics,
        bars,
        failures,
        scores,
        samples=samples,
        inconclusive=reasons,
        inconclusive_allowed=[k for k in reasons if k in allowed],
    )


def _case_metrics(engine: Engine, case: Case) -> tuple[dict[str, Any], dict[str, Tensor], dict[str, Tensor]]:
    """A (non-family) case's metrics with its integrity indicators, its detector scores and its per-sample
    results (with gallery images)."""
    base, scores, samples = engine.base_case(case)
    metrics = dict(base)
    if case.suite.indicators:
        metrics.update(probes.indicators(engine, case))
    else:  # a suite-wide opt-out of every integrity check: shown, never silent (not gating)
        metrics["indicators_off"] = 1.0
    return metrics, scores, samples


def _stored_case(engine: Engine, case: Case) -> tuple[dict[str, Any], dict[str, Tensor], dict[str, Tensor]]:
    """:func:`_case_metrics`, stored on disk under the case's metrics key (which covers everything the
    metrics depend on, and the cache's code and library versions): a warm run does not recompute an
    unchanged case at all. Flat entry: ``m:<metric>`` plain values, ``s:<scores>`` tensors and
    ``p:<per-sample array>`` tensors (per-sample results and gallery images, so that a warm run still
    writes them to the run record's companion file)."""
    user_code = engine.user_code(case) if engine.cache.enabled else None
    if user_code is None:  # no cache, or code whose source cannot be read: never stored
        return _case_metrics(engine, case)
    # eps_nonmonotone compares with the attack's next smaller ε, which the metrics key does not hold
    smaller = sorted(e for e in case.attack.eps if e < case.eps)[-1:]
    key = content_key("case-metrics", engine.metrics_key(case), case.suite.indicators, user_code, smaller)

    def compute() -> dict[str, Any]:
        metrics, scores, samples = _case_metrics(engine, case)
        out: dict[str, Any] = {f"m:{k}": (None if v is None else float(v)) for k, v in metrics.items()}
        out.update({f"s:{k}": v.detach().cpu() for k, v in scores.items()})
        out.update({f"p:{k}": v.detach().cpu() for k, v in samples.items()})
        return out

    blob = engine.cache.get_or_compute("metrics", key, compute, validate=_check_single_case_entry)
    metrics = {k[2:]: v for k, v in blob.items() if k.startswith("m:")}
    scores = {k[2:]: v for k, v in blob.items() if k.startswith("s:")}
    samples = {k[2:]: v for k, v in blob.items() if k.startswith("p:")}
    return metrics, scores, samples


def _check_eps(engine: Engine, case: Case) -> None:
    """An L2 ε larger than the diagonal of the [0, 1] box of the data's shape (√d) bounds nothing: one
    error naming the attack, ε and the shape (an L∞ ε above 1 is refused when the suite is built)."""
    attacks = case.members if isinstance(case, FamilyCase) else (case.attack,)
    shape = engine.data(case.suite).input_shape
    for attack in attacks:
        norm = getattr(ATTACKS.get(attack.name), "norm", None)
        diameter = math.sqrt(math.prod(shape))
        if norm == "l2" and case.eps > diameter:
            raise ConfigError(
                f"suite {case.suite.name!r}: attack {attack.id!r} has L2 ε = {case.eps:g}, larger than "
                f"√d = {diameter:.3g}, the largest L2 distance between two images of shape "
                f"{'×'.join(map(str, shape))} in [0, 1]: such a budget bounds nothing."
            )


def _stored_family(engine: Engine, case: FamilyCase) -> dict[str, Any]:
    """A family case's worst-case metrics, stored like :func:`_stored_case` under the metrics keys
    and user code of its member cases (the adversarial sets it takes the worst case over)."""
    members = probes.member_cases(case)
    codes = [engine.user_code(m) for m in members] if engine.cache.enabled else [None]
    if any(c is None for c in codes):
        return probes.family_metrics(engine, case)
    key = content_key("family-metrics", case.family, [engine.metrics_key(m) for m in members], codes)

    def compute() -> dict[str, Any]:
        metrics = probes.family_metrics(engine, case)
        return {f"m:{k}": (None if v is None else float(v)) for k, v in metrics.items()}

    blob = engine.cache.get_or_compute("metrics", key, compute, validate=_check_case_entry)
    return {k[2:]: v for k, v in blob.items() if k.startswith("m:")}


def _fmt_flag(value: float | None) -> str:
    return "nan" if value is None or math.isnan(value) else f"{value:g}"


def check_bars(metrics: dict[str, float | None], bars: dict[str, Bar]) -> list[str]:
    """Failure lines for every bar missed. Metrics that do not apply (None) are not checked; a NaN
    (e.g. an AUC with no successful adversarial example) cannot meet a bar and fails it."""
    failures = []
    violations = metrics.get("budget_violations") or 0.0
    if violations > 0:
        failures.append(
            f"budget_violations = {violations:g} (must be 0): the attack left the ε-ball, [0, 1] "
            f"or produced NaN — a bug, not a result"
        )
    for name, bar in bars.items():
        value = metrics.get(name)
        if value is None:
            continue
        if not bar.passed(value):
            shown = "nan (not measurable)" if math.isnan(value) else f"{value:.4f}"
            failures.append(f"{name} = {shown}, bar: {bar.describe()}")
    return failures
