"""Extension hooks of robustcheck. Implement them in a ``conftest.py`` (or a plugin)."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.hookspec
def pytest_robustcheck_machine_info(config: pytest.Config, machine_info: dict[str, Any]) -> None:
    """Add to (or edit) the machine information saved in every run record.

    Example ``conftest.py``::

        def pytest_robustcheck_machine_info(config, machine_info):
            machine_info["ci_runner"] = os.environ.get("RUNNER_NAME", "local")
    """


@pytest.hookspec
def pytest_robustcheck_modify_cases(config: pytest.Config, suite: Any, cases: list[Any]) -> None:
    """Add, remove or reorder the cases of ``suite`` before they become items (edit ``cases`` in place).

    Example ``conftest.py`` — drop white-box cases of slow defences on pull requests::

        def pytest_robustcheck_modify_cases(config, suite, cases):
            if os.environ.get("PR"):
                cases[:] = [c for c in cases if not (c.threat == "white-box" and c.defence.id == "ae-kl")]
    """


@pytest.hookspec
def pytest_robustcheck_metrics(config: pytest.Config, case: Any, metrics: dict[str, Any]) -> None:
    """Post-process the metrics of one case before its bars are checked (edit ``metrics`` in place).

    New metric names must be declared with :func:`robustcheck.metrics.register_metric` so that bars and
    regression checks know their direction.

    Example ``conftest.py``::

        from robustcheck.metrics import register_metric

        register_metric("robust_gap", higher_is_better=False, description="clean - corrected accuracy")

        def pytest_robustcheck_metrics(config, case, metrics):
            metrics["robust_gap"] = metrics["clean_accuracy"] - metrics["corrected_accuracy"]
    """
