"""Evaluate one case from ordinary code or tests: ``evaluate(defence, "pgd-linf", eps=0.1, threat="white-box")``.

Example (in a test, through the ``robustcheck_evaluate`` fixture, which reuses the run's engine and
honours ``--robustcheck-scale``/``--robustcheck-device``/the cache)::

    @pytest.mark.robustcheck_thresholds(corrected_accuracy=0.5)
    def test_my_defence(robustcheck_evaluate):
        m = robustcheck_evaluate(MyDefence, "pgd-linf", eps=0.1, threat="white-box")
        assert m.detection_auc >= 0.9
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from robustcheck.engine import CaseResult, Engine
from robustcheck.suite import Attack, Defence, Scale, Suite, Thresholds


class Metrics(Mapping[str, Any]):
    """Read-only metrics of one case; keys are also attributes (``m.corrected_accuracy``)."""

    def __init__(self, result: CaseResult) -> None:
        self._values = dict(result.metrics)
        self.case_id = result.case_id
        self.failures = list(result.failures)

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
) -> Any:
    """A one-case suite named ``adhoc``; all arguments are validated like a suite's."""
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
        thresholds=[Thresholds(**dict(thresholds))] if thresholds else [],
    )
    return suite.cases()[0]


def evaluate(defence: Any, attack: str, *, eps: float, engine: Engine | None = None, scale: str = "default",
             device: str = "auto", cache_dir: str | None = ".robustcheck/cache", **case_kwargs: Any) -> Metrics:
    """Evaluate ``defence`` (registry name, BaseDefence class/factory or instance) against one attack.

    Returns the case's :class:`Metrics` (bars given as ``thresholds={...}`` are checked and their misses
    listed in ``Metrics.failures``). Outside pytest a fresh :class:`Engine` is made unless one is passed.
    """
    case = build_case(defence, attack, eps=eps, **case_kwargs)
    eng = engine if engine is not None else Engine(device=device, scale=scale, cache_dir=cache_dir)
    return Metrics(eng.evaluate(case))
