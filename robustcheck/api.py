"""Evaluate one case from ordinary code or tests:
``evaluate(defence, "pgd-linf", eps=0.1, threat="white-box")``.

Example (in a test, through the ``robustcheck_evaluate`` fixture, which reuses the run's engine and
honours ``--robustcheck-scale``/``--robustcheck-device``/the cache)::

    @pytest.mark.robustcheck_thresholds(corrected_accuracy=0.5)
    def test_my_defence(robustcheck_evaluate):
        m = robustcheck_evaluate(MyDefence, "pgd-linf", eps=0.1, threat="white-box")
        assert m.detection_auc >= 0.9
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from robustcheck.engine import Engine
from robustcheck.errors import ConfigError, InconclusiveError
from robustcheck.evaluate import CaseResult
from robustcheck.evaluate import evaluate as evaluate_case
from robustcheck.suite import Attack, Defence, Scale, Suite, Thresholds


class Metrics(Mapping[str, Any]):
    """Read-only metrics of one case; keys are also attributes (``m.corrected_accuracy``)."""

    def __init__(self, result: CaseResult) -> None:
        self._values = dict(result.metrics)
        self.case_id = result.case_id
        self.failures = list(result.failures)
        #: raised integrity indicators -> message naming the fix (empty when the evaluation is conclusive)
        self.inconclusive = dict(result.inconclusive)
        self.inconclusive_allowed = list(result.inconclusive_allowed)
        #: passed / failed / inconclusive / inconclusive-allowed (see CaseResult.status)
        self.status = result.status

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __getattr__(self, key: str) -> Any:
        try:
            return self.__dict__["_values"][key]
        except KeyError:
            raise AttributeError(f"no metric {key!r}; known: {', '.join(sorted(self._values))}") from None

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={v:.4g}" for k, v in self._values.items() if isinstance(v, float))
        return f"Metrics[{self.case_id}]({shown})"


def check_case_kwargs(kwargs: Mapping[str, Any], where: str) -> None:
    """One ConfigError naming unknown keyword arguments of :func:`build_case` (and the accepted ones)."""
    accepted = [n for n, p in inspect.signature(build_case).parameters.items() if p.kind is p.KEYWORD_ONLY]
    unknown = sorted(set(kwargs) - set(accepted))
    if unknown:
        raise ConfigError(
            f"{where}: unknown argument(s) {', '.join(map(repr, unknown))}; accepted: {', '.join(accepted)}."
        )


def build_case(
    defence: Any,
    attack: str,
    *,
    eps: float,
    threat: str = "grey-box",
    dataset: str = "mnist-embedded",
    classifier: Any = "mnist-cnn",
    seed: int = 0,
    fpr: float = 0.05,
    n_samples: int | None = None,
    scales: Mapping[str, Scale] | None = None,
    thresholds: Mapping[str, float] | None = None,
    data_root: str | None = None,
    attack_params: Mapping[str, Any] | None = None,
    defence_params: Mapping[str, Any] | None = None,
    allow_inconclusive: bool | Sequence[str] | None = None,
) -> Any:
    """A one-case suite named ``adhoc``; all arguments are validated like a suite's. ``allow_inconclusive``
    is :class:`~robustcheck.suite.Thresholds`'s (also accepted inside ``thresholds``)."""
    th: dict[str, Any] = dict(thresholds or {})  # bars, and selectors / allow_inconclusive
    if allow_inconclusive is not None:
        th["allow_inconclusive"] = allow_inconclusive
    d = defence if isinstance(defence, Defence) else Defence(defence, **dict(defence_params or {}))
    suite = Suite(
        name="adhoc",
        dataset=dataset,
        classifier=classifier,
        defences=[d],
        attacks=[Attack(attack, eps=eps, **dict(attack_params or {}))],
        threat_models=[threat],
        seed=seed,
        fpr=fpr,
        n_samples=n_samples,
        scales=dict(scales or {}),
        data_root=data_root,
        thresholds=[Thresholds(**th)] if th else [],
    )
    return suite.cases()[0]


def evaluate(
    defence: Any,
    attack: str,
    *,
    eps: float,
    engine: Engine | None = None,
    scale: str = "default",
    device: str = "auto",
    cache_dir: str | None = ".robustcheck/cache",
    **case_kwargs: Any,
) -> Metrics:
    """Evaluate ``defence`` (registry name, BaseDefence class/factory or instance) against one attack.

    Returns the case's :class:`Metrics` (bars given as ``thresholds={...}`` are checked and their misses
    listed in ``Metrics.failures``). Outside pytest a fresh :class:`Engine` is made unless one is passed.

    Raises :class:`~robustcheck.errors.InconclusiveError` (its ``metrics`` attached) when integrity
    indicators are raised (:data:`robustcheck.indicators.INCONCLUSIVE`: gradient masking, a broken
    attack, ...), unless ``allow_inconclusive=True`` (or a list of those indicators) is given; then the
    result's ``status`` is ``inconclusive-allowed`` and ``inconclusive`` lists them.
    """
    from robustcheck.report import inconclusive_lines

    check_case_kwargs(case_kwargs, "robustcheck.evaluate")
    case = build_case(defence, attack, eps=eps, **case_kwargs)
    eng = engine if engine is not None else Engine(device=device, scale=scale, cache_dir=cache_dir)
    metrics = Metrics(evaluate_case(eng, case))
    inconclusive = [f for f in metrics.failures if f.startswith("INCONCLUSIVE")]
    if inconclusive:
        raise InconclusiveError("\n".join(inconclusive_lines(metrics.case_id, inconclusive)), metrics)
    return metrics
