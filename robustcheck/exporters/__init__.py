"""Exporters of finished runs to experiment trackers, through the ``pytest_robustcheck_run_finished`` hook.

- :class:`robustcheck.exporters.mlflow.MLflowExporter` (extra ``mlflow``)
- :class:`robustcheck.exporters.wandb.WandbExporter` (extra ``wandb``)

Register one from a ``conftest.py`` (``docs/exporters.md``)::

    from robustcheck.exporters.mlflow import MLflowExporter

    def pytest_configure(config):
        config.pluginmanager.register(MLflowExporter(experiment="robustness"), "robustcheck-mlflow")

The helpers here turn a run record (the dict ``robustcheck.session`` writes) into what every tracker
takes: flat metric keys per case, run parameters and tags. They import neither torch nor a tracker.
"""

from __future__ import annotations

import importlib
import math
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

__all__ = [
    "case_metrics",
    "companion_files",
    "metric_key",
    "require",
    "require_for_pytest",
    "run_params",
    "run_summary",
]

#: Characters kept in a key part: MLflow's portable set (its metric names also allow ':' and ' ', but not
#: on Windows) and W&B's stricter one (letters, digits and '_' sort and filter in its UI).
_KEEP = {"mlflow": re.compile(r"[^A-Za-z0-9_.\-]"), "wandb": re.compile(r"[^A-Za-z0-9_]")}


def require(module: str, extra: str, what: str) -> ModuleType:
    """Import ``module`` (a tracker's client), or raise ModuleNotFoundError naming the extra to install."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name is not None and exc.name.split(".")[0] != module.split(".")[0]:
            raise  # the package is there but broken: its own error says more
        raise ModuleNotFoundError(
            f'{what} needs the {module.split(".")[0]!r} package: pip install "pytest-robustcheck[{extra}]"',
            name=module,
        ) from None


def require_for_pytest(module: str, extra: str, what: str) -> None:
    """:func:`require` from an exporter's ``pytest_configure``: a missing package is a usage error, one
    ``ERROR: ... pip install "pytest-robustcheck[extra]"`` line at the start of the run (not an
    INTERNALERROR traceback, nor a surprise after the evaluation)."""
    try:
        require(module, extra, what)
    except ModuleNotFoundError as exc:
        raise pytest.UsageError(str(exc)) from None


def _part(text: str, style: str) -> str:
    return _KEEP[style].sub("_", text) or "_"


def metric_key(suite: str, case: str, metric: str, style: str = "mlflow") -> str:
    """The tracker key of one case metric: ``<suite>/<case parts>/<metric>``.

    The case id's ``|`` separators become ``/`` (a path the trackers group by) and, in each part, every
    character a tracker does not accept in keys becomes ``_``: with ``style="mlflow"`` everything but
    letters, digits and ``_.-`` (so ``eps=0.3`` becomes ``eps_0.3``); with ``style="wandb"`` everything but
    letters, digits and ``_`` (``eps_0_3``, ``ae_kl``). For example ``tiny`` / ``ae-kl|fgsm|eps=0.3|grey-box``
    / ``corrected_accuracy`` is ``tiny/ae-kl/fgsm/eps_0.3/grey-box/corrected_accuracy`` for MLflow and
    ``tiny/ae_kl/fgsm/eps_0_3/grey_box/corrected_accuracy`` for W&B.
    """
    return "/".join(_part(p, style) for p in [suite, *case.split("|"), metric])


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)) and math.isfinite(value):
        return float(value)
    return None


def case_metrics(record: dict[str, Any], style: str = "mlflow") -> dict[str, float]:
    """Every finite numeric metric of every case of ``record``, keyed by :func:`metric_key`.

    Metrics without a value (None: not applicable or NaN), non-finite and non-numeric values are left
    out. Cases are visited in sorted order; two cases whose keys would coincide after sanitising (``a-b``
    and ``a_b`` for W&B) keep them apart with a ``_2``, ``_3``, ... suffix on the later one's keys.
    """
    out: dict[str, float] = {}
    owner: dict[str, tuple[str, str]] = {}  # key prefix -> the (suite, case) that has it
    for suite in sorted(record.get("suites") or {}):
        cases = record["suites"][suite] or {}
        for case in sorted(cases):
            prefix = "/".join(_part(p, style) for p in [suite, *case.split("|")])
            base, n = prefix, 1
            while owner.get(prefix, (suite, case)) != (suite, case):
                n += 1
                prefix = f"{base}_{n}"
            owner[prefix] = (suite, case)
            for metric, value in sorted(((cases[case] or {}).get("metrics") or {}).items()):
                number = _number(value)
                if number is not None:
                    out[f"{prefix}/{_part(metric, style)}"] = number
    return out


def run_summary(record: dict[str, Any]) -> dict[str, float]:
    """Run-level counts: ``cases_total``, ``cases_failed`` (missed bars, regressions, inconclusive) and
    ``cases_inconclusive`` (raised integrity indicators). No ``/`` in these keys: no case key clashes."""
    cases = [c or {} for s in (record.get("suites") or {}).values() for c in (s or {}).values()]
    return {
        "cases_total": float(len(cases)),
        "cases_failed": float(sum(c.get("outcome") == "FAILED" for c in cases)),
        "cases_inconclusive": float(sum(c.get("status") == "inconclusive" for c in cases)),
    }


def run_params(record: dict[str, Any], record_path: Path | None = None) -> dict[str, str]:
    """The run's parameters as strings: ``suites`` (names, comma-separated), ``scale``, ``seed`` (the
    override, else the suites' seed, else ``suite=seed`` pairs), ``commit``, ``branch``, ``dirty``,
    ``device``, ``shard``, ``compared_with``, ``schema`` and ``record`` (the record's file name). Values
    that are absent or None are left out."""
    seeds = record.get("seeds") or {}
    if record.get("seed_override") is not None:
        seed: Any = record["seed_override"]
    elif len({str(v) for v in seeds.values()}) == 1:
        seed = next(iter(seeds.values()))
    else:
        seed = ",".join(f"{s}={v}" for s, v in sorted(seeds.items())) or None
    git = record.get("git") or {}
    params: dict[str, Any] = {
        "suites": ",".join(sorted(record.get("suites") or {})) or None,
        "scale": record.get("scale"),
        "seed": seed,
        "commit": git.get("commit"),
        "branch": git.get("branch"),
        "dirty": git.get("dirty"),
        "device": record.get("device"),
        "shard": record.get("shard"),
        "compared_with": record.get("compared_with"),
        "schema": record.get("schema"),
        "record": record_path.name if record_path is not None else None,
    }
    return {k: str(v) for k, v in params.items() if v is not None}


def companion_files(record_path: Path) -> list[Path]:
    """The run record and, when the run wrote one, its companion ``.npz`` (arrays beside the record)."""
    path = Path(record_path)
    side = path.with_suffix(".npz")
    return [path, side] if side.exists() else [path]
