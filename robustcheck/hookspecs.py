"""Extension hooks of robustcheck. Implement them in a ``conftest.py`` (or a plugin)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
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


@pytest.hookspec
def pytest_robustcheck_run_finished(
    config: pytest.Config, record: dict[str, Any], record_path: Path
) -> str | list[str] | None:
    """The run is over and its record is written: export it (an experiment tracker, a dashboard, ...).

    Called once per run, on the process that writes the record (the xdist controller), after the record
    (``record_path``, a ``.json`` file, with its companion ``.npz`` beside it when the run has arrays) and
    the reports are written; not called when no record was written (nothing evaluated, or no results
    folder). ``record`` is the record as read back from ``record_path`` (a copy per implementation).
    Return a line (or lines) for the terminal summary, or None. An implementation that raises does not
    fail the run: its error becomes one line of the terminal summary and the other implementations
    still run. Ready-made exporters: :mod:`robustcheck.exporters` (MLflow, Weights & Biases).

    Example ``conftest.py``::

        def pytest_robustcheck_run_finished(config, record, record_path):
            for suite, cases in record["suites"].items():
                for case_id, case in cases.items():
                    my_tracker.log(suite, case_id, case["metrics"])
            return f"robustcheck: sent {record_path.name} to my tracker"
    """


def call_run_finished(config: pytest.Config, record_path: Path) -> list[str]:
    """Call every ``pytest_robustcheck_run_finished`` implementation (last registered first, as pluggy
    does) with the record read back from ``record_path``; returns the lines for the terminal summary.

    Each implementation is called on its own, so one that raises neither stops the others nor reaches
    pytest: it becomes one line naming the plugin and the error. (With a wrapper implementation among
    them, pluggy calls them all in one go and the first error is the line.) Never raises.
    """
    path = Path(record_path)
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return [f"robustcheck: pytest_robustcheck_run_finished not called: cannot read {path}: {exc}"]
    hook = config.hook.pytest_robustcheck_run_finished
    impls = hook.get_hookimpls()
    if not impls:
        return []

    def kwargs() -> dict[str, Any]:
        return {"config": config, "record": copy.deepcopy(record), "record_path": path}

    lines: list[str] = []
    if any(impl.wrapper or impl.hookwrapper for impl in impls):
        try:
            results: list[Any] = list(hook(**kwargs()))
        except Exception as exc:
            return [_failure_line("a plugin", exc, path)]
    else:
        results = []
        for impl in reversed(impls):
            args = kwargs()
            try:
                results.append(impl.function(*[args[name] for name in impl.argnames]))
            except Exception as exc:
                lines.append(_failure_line(f"plugin {impl.plugin_name!r}", exc, path))
    for out in results:
        if isinstance(out, str):
            lines.append(out)
        elif isinstance(out, (list, tuple)):
            lines.extend(str(line) for line in out)
    return lines


def _failure_line(who: str, exc: Exception, path: Path) -> str:
    text = str(exc).strip().splitlines()
    message = text[0] if text else ""
    if len(message) > 300:
        message = message[:297] + "..."
    return (
        f"robustcheck: pytest_robustcheck_run_finished of {who} failed: {type(exc).__name__}"
        f"{': ' + message if message else ''} (the run record {path} is saved)"
    )
