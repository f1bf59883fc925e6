"""pytest hooks, options and items — nothing else. State lives in :mod:`robustcheck.session`."""

from __future__ import annotations

import fnmatch
import json
import math
from pathlib import Path
from typing import Any

import pytest

from robustcheck.errors import DataUnavailableError, RobustcheckError
from robustcheck.report import format_table, git_info, machine_info, write_run_record
from robustcheck.session import Options, RobustcheckSession
from robustcheck.suite import Case, Suite

session_key = pytest.StashKey[RobustcheckSession]()
RECORD_PROPERTY = "robustcheck"

_OPTIONS = [
    # (name, ini type, default, help)
    ("device", "string", "auto", "device to evaluate on: auto, cpu or cuda"),
    ("seed", "string", None, "seed overriding every suite's seed"),
    ("scale", "string", "default", "run size: smoke, default or paper"),
    ("cache-dir", "string", ".robustcheck/cache", "folder for trained models and adversarial sets"),
    ("results-dir", "string", ".robustcheck/results", "folder for JSON run records"),
    ("data-root", "string", None, "local root of torchvision datasets"),
]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("robustcheck", "adversarial-defence evaluation")
    group.addoption("--robustcheck", action="store_true", default=False,
                    help="evaluate robustcheck suites (otherwise their items are skipped)")
    parser.addini("robustcheck", "evaluate robustcheck suites (like --robustcheck)", type="bool", default=False)
    for name, kind, default, help_ in _OPTIONS:
        group.addoption(f"--robustcheck-{name}", dest=f"robustcheck_{name.replace('-', '_')}", default=None,
                        help=f"{help_} (ini: robustcheck_{name.replace('-', '_')}; default {default})")
        parser.addini(f"robustcheck_{name.replace('-', '_')}", help_, type=kind, default=default)
    parser.addini("robustcheck_suite_files", "glob patterns (relative to rootdir) of files declaring suites",
                  type="linelist", default=["suites/*.py"])


def _option(config: pytest.Config, name: str) -> Any:
    """Precedence: command line > ini > default."""
    key = f"robustcheck_{name.replace('-', '_')}"
    value = config.getoption(key)
    if value is None:
        value = config.getini(key)
    return value if value != "" else None


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "robustcheck: an adversarial-robustness case evaluated by robustcheck")
    rootdir = Path(config.rootpath)
    seed = _option(config, "seed")
    try:
        seed_int = int(seed) if seed is not None else None
    except ValueError:
        raise pytest.UsageError(f"--robustcheck-seed must be an integer, got {seed!r}") from None

    def path(name: str) -> Path | None:
        v = _option(config, name)
        return None if v is None else (rootdir / v if not Path(v).is_absolute() else Path(v))

    try:
        options = Options(
            enabled=bool(config.getoption("robustcheck") or config.getini("robustcheck")),
            device=_option(config, "device") or "auto",
            seed=seed_int,
            scale=_option(config, "scale") or "default",
            cache_dir=path("cache-dir"),
            results_dir=path("results-dir"),
            data_root=str(path("data-root")) if _option(config, "data-root") else None,
        )
    except RobustcheckError as exc:
        raise pytest.UsageError(str(exc)) from None
    rc = RobustcheckSession(options)
    config.stash[session_key] = rc
    config.pluginmanager.register(_RecordCollector(rc), "robustcheck-records")


# ---------------------------------------------------------------------------- collection
class SuiteModule(pytest.Module):
    """A file matched by ``robustcheck_suite_files``; a bad suite becomes a one-line collection error."""

    def collect(self) -> Any:
        try:
            return super().collect()
        except RobustcheckError as exc:
            raise self.CollectError(f"robustcheck: {exc}") from None


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.suffix != ".py" or file_path.name == "__init__.py":
        return None
    config = parent.config
    try:
        rel = file_path.relative_to(config.rootpath).as_posix()
    except ValueError:
        return None
    if not any(fnmatch.fnmatch(rel, pat) for pat in config.getini("robustcheck_suite_files")):
        return None
    # files pytest's python plugin collects anyway must not be collected twice
    if parent.session.isinitpath(file_path) or any(
        fnmatch.fnmatch(file_path.name, pat) for pat in config.getini("python_files")
    ):
        return None
    return SuiteModule.from_parent(parent, path=file_path)


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makeitem(collector: pytest.Collector, name: str, obj: object) -> Any:
    if not isinstance(obj, Suite):
        return None
    enabled = collector.config.stash[session_key].options.enabled
    items = []
    for case in obj.cases():
        item = RobustcheckItem.from_parent(collector, name=case.nodeid_name, case=case)
        item.add_marker(pytest.mark.robustcheck)
        clf = obj.classifier if isinstance(obj.classifier, str) else getattr(obj.classifier, "__name__", "custom")
        item.add_marker(pytest.mark.xdist_group(name=f"robustcheck:{obj.dataset}:{clf}"))
        if not enabled:
            item.add_marker(pytest.mark.skip(reason="run with --robustcheck"))
        items.append(item)
    return items


# ---------------------------------------------------------------------------- items
class RobustcheckFailure(Exception):
    """A case missed one of its bars."""


class RobustcheckItem(pytest.Item):
    def __init__(self, *, case: Case, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.case = case

    def runtest(self) -> None:
        rc = self.config.stash[session_key]
        try:
            result = rc.evaluate(self.case)
        except DataUnavailableError as exc:  # paper-scale suites on machines without the data
            pytest.skip(f"robustcheck: {exc}")
        outcome = "passed" if result.passed else "FAILED"
        record = {
            "suite": result.suite,
            "case": result.case_id,
            "nodeid": self.nodeid,
            "metrics": {k: (None if v is not None and math.isnan(v) else v) for k, v in result.metrics.items()},
            "bars": {k: b.describe() for k, b in result.bars.items()},
            "outcome": outcome,
            "failures": result.failures,
        }
        self.user_properties.append((RECORD_PROPERTY, json.dumps(record)))
        for k, v in result.metrics.items():
            if v is not None:
                self.user_properties.append((k, v))
        if result.failures:
            raise RobustcheckFailure(self._failure_message(result.failures))

    def _failure_message(self, failures: list[str]) -> str:
        o = self.config.stash[session_key].options
        extra = f" --robustcheck-scale={o.scale}"
        if o.seed is not None:
            extra += f" --robustcheck-seed={o.seed}"
        lines = [f"robustcheck case {self.case.suite.name}[{self.case.id}] missed its bars:"]
        lines += [f"  - {f}" for f in failures]
        lines.append(f"reproduce: pytest --robustcheck{extra} '{self.nodeid}'")
        return "\n".join(lines)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, RobustcheckFailure):
            return str(excinfo.value)
        if isinstance(excinfo.value, RobustcheckError):
            return f"robustcheck error in {self.case.suite.name}[{self.case.id}]: {excinfo.value}"
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Any, int, str]:
        return self.path, 0, f"robustcheck {self.name}"


# ---------------------------------------------------------------------------- reporting
class _RecordCollector:
    """Gathers case records from test reports on whichever process receives them (the xdist
    controller, or the only process)."""

    def __init__(self, rc: RobustcheckSession) -> None:
        self.rc = rc

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when != "call":
            return
        for name, value in report.user_properties:
            if name == RECORD_PROPERTY:
                self.rc.add_record(json.loads(value))


def _is_controller(config: pytest.Config) -> bool:
    return not hasattr(config, "workerinput")


def pytest_sessionfinish(session: pytest.Session) -> None:
    config = session.config
    rc = config.stash.get(session_key, None)
    if rc is None or not _is_controller(config) or not rc.options.enabled:
        return
    if not rc.records or rc.options.results_dir is None:
        return
    import torch

    o = rc.options
    record = {
        "schema": 1,
        "started": rc.started,
        "scale": o.scale,
        "seed_override": o.seed,
        "device": o.device if o.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu"),
        "machine": machine_info(),
        "git": git_info(config.rootpath),
        "suites": {name: {r["case"]: r for r in recs} for name, recs in rc.by_suite().items()},
    }
    try:
        rc.last_record_path = write_run_record(o.results_dir, record)  # type: ignore[attr-defined]
    except OSError as exc:  # never raise from the end of the session
        rc.last_record_error = str(exc)  # type: ignore[attr-defined]


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    rc = config.stash.get(session_key, None)
    if rc is None or not rc.options.enabled or not rc.records:
        return
    tr = terminalreporter
    for suite, recs in rc.by_suite().items():
        tr.write_sep("=", f"robustcheck: {suite} (scale={rc.options.scale})")
        tr.write_line(format_table(recs))
    path = getattr(rc, "last_record_path", None)
    if path is not None:
        tr.write_line(f"robustcheck run record: {path}")
    err = getattr(rc, "last_record_error", None)
    if err is not None:
        tr.write_line(f"robustcheck: could not write the run record: {err}")
