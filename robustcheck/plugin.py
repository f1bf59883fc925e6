"""pytest hooks, options and items — nothing else. State lives in :mod:`robustcheck.session`.

Every pytest run of every user who installed robustcheck loads this module, so it imports torch (through
the session, engine and suites) only when robustcheck is used: ``--robustcheck`` is given, a suite file is
collected, or a test asks for the ``robustcheck_evaluate`` fixture (``tests/test_architecture.py``).
"""

from __future__ import annotations

import fnmatch
import json
import math
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

import pytest

from robustcheck import progress
from robustcheck.errors import DataUnavailableError, RobustcheckError

if TYPE_CHECKING:
    from robustcheck.session import RobustcheckSession
    from robustcheck.suite import Case

session_key = pytest.StashKey["RobustcheckSession"]()
#: Builds the session on first use (torch is imported then, not when pytest loads the plugin).
make_session_key = pytest.StashKey[Callable[[], "RobustcheckSession"]]()
enabled_key = pytest.StashKey[bool]()
scores_key = pytest.StashKey[dict]()
progress_key = pytest.StashKey["bool | None"]()
progress_writer_key = pytest.StashKey["progress.Writer"]()
RECORD_PROPERTY = "robustcheck"

#: The ini value types of ``parser.addini`` (pytest 7.4 and later).
_IniType = Literal["string", "paths", "pathlist", "args", "linelist", "bool"]

_OPTIONS: list[tuple[str, _IniType, str | None, str]] = [
    # (name, ini type, default, help)
    ("device", "string", "auto", "device to evaluate on: auto, cpu or cuda"),
    ("seed", "string", None, "seed overriding every suite's seed"),
    (
        "malloc",
        "string",
        "keep",
        "keep: glibc keeps freed tensor memory for reuse (faster, same numbers); system: leave malloc as is",
    ),
    ("scale", "string", "default", "run size: smoke, default or paper"),
    ("cache-dir", "string", ".robustcheck/cache", "folder for trained models and adversarial sets"),
    ("results-dir", "string", ".robustcheck/results", "folder for JSON run records"),
    ("data-root", "string", None, "local root of torchvision datasets"),
    (
        "compare-fail",
        "string",
        None,
        (
            "fail items whose metrics regress beyond these tolerances, e.g. "
            "corrected_accuracy:0.02,detection_auc:0.01 (implies compare)"
        ),
    ),
    ("baseline", "string", "robustcheck-baseline.json", "baseline file (relative to rootdir)"),
    ("markdown", "string", None, "write a Markdown summary here (e.g. $GITHUB_STEP_SUMMARY)"),
    ("report-dir", "string", None, "write PNG plots here (needs the 'plots' extra: matplotlib)"),
    (
        "report",
        "string",
        None,
        "write reports at the end of the run: FORMAT=PATH[,FORMAT=PATH] (formats: robustcheck.report)",
    ),
    (
        "shard",
        "string",
        None,
        (
            "evaluate shard I/N (1-based) of the cases, a deterministic share by (suite, "
            "defence); join the shards' records with `robustcheck merge`"
        ),
    ),
]


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    from robustcheck import hookspecs

    pluginmanager.add_hookspecs(hookspecs)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("robustcheck", "adversarial-defence evaluation")
    group.addoption(
        "--robustcheck",
        action="store_true",
        default=False,
        help="evaluate robustcheck suites (otherwise their items are skipped)",
    )
    parser.addini(
        "robustcheck", "evaluate robustcheck suites (like --robustcheck)", type="bool", default=False
    )
    for name, kind, default, help_ in _OPTIONS:
        group.addoption(
            f"--robustcheck-{name}",
            dest=f"robustcheck_{name.replace('-', '_')}",
            default=None,
            help=f"{help_} (ini: robustcheck_{name.replace('-', '_')}; default {default})",
        )
        # "" stands for "not set" (pytest < 8 returns [] for a string ini whose default is None)
        parser.addini(
            f"robustcheck_{name.replace('-', '_')}",
            help_,
            type=kind,
            default="" if default is None else default,
        )
    group.addoption(
        "--robustcheck-compare",
        dest="robustcheck_compare",
        nargs="?",
        const="baseline",
        default=None,
        metavar="RUN",
        help="compare with the baseline, or with saved run RUN (number or record path); "
        "ini: robustcheck_compare",
    )
    parser.addini("robustcheck_compare", "compare with 'baseline' or a saved run", type="string", default="")
    group.addoption(
        "--robustcheck-update-baseline",
        dest="robustcheck_update_baseline",
        action="store_true",
        default=None,
        help="rewrite the baseline file from this run (ini: robustcheck_update_baseline)",
    )
    parser.addini(
        "robustcheck_update_baseline", "rewrite the baseline from this run", type="bool", default=False
    )
    parser.addini(
        "robustcheck_suite_files",
        "glob patterns (relative to rootdir) of files declaring suites; with "
        "--robustcheck, a configured pattern matching no .py file is an error",
        type="linelist",
        default=["suites/*.py"],
    )


def _option(config: pytest.Config, name: str) -> Any:
    """Precedence: command line > ini > default."""
    key = f"robustcheck_{name.replace('-', '_')}"
    value = config.getoption(key)
    if value is None:
        value = _ini(config, key)
    return value if value != "" else None


def _ini(config: pytest.Config, key: str) -> Any:
    """``config.getini`` with a bad value (``robustcheck = maybe``) as one UsageError, not an
    INTERNALERROR."""
    try:
        return config.getini(key)
    except (ValueError, pytest.UsageError) as exc:  # pytest >= 9.2 raises UsageError itself, without the key
        raise pytest.UsageError(f"ini value {key}: {exc}; use true or false (1/0, yes/no, on/off)") from None


_DEVICE_RE = re.compile(r"auto|cpu|cuda(:[0-9]+)?")
_DEFAULT_SUITE_FILES = ["suites/*.py"]


def _check_shard_option(config: pytest.Config) -> tuple[int, int] | None:
    value = _option(config, "shard")
    if value is None:
        return None
    m = re.fullmatch(r"\s*(\d{1,6})\s*/\s*(\d{1,6})\s*", str(value))
    if m is None or not 1 <= int(m.group(1)) <= int(m.group(2)):
        raise pytest.UsageError(f"--robustcheck-shard must be I/N with 1 <= I <= N (e.g. 2/3), got {value!r}")
    return int(m.group(1)), int(m.group(2))


def shard_of(keys: list[tuple[str, str]], shard: tuple[int, int]) -> set[tuple[str, str]]:
    """The (suite, defence) groups shard ``i/n`` evaluates: the sorted groups dealt round-robin, so every
    group (its defence trained once) is in exactly one shard and the shards differ in size by at most one."""
    i, n = shard
    return {k for idx, k in enumerate(sorted(set(keys))) if idx % n == i - 1}


def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    rc = config.stash.get(session_key, None)
    shard = rc.options.shard if rc is not None else None
    if shard is None:
        return
    cases = [it for it in items if isinstance(it, RobustcheckItem)]
    mine = shard_of([(it.case.suite.name, it.case.defence.id) for it in cases], shard)
    deselected = [it for it in cases if (it.case.suite.name, it.case.defence.id) not in mine]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        drop = set(map(id, deselected))
        items[:] = [it for it in items if id(it) not in drop]


def assign_worker_gpu(workerid: str | None, gpus: int, env: dict[str, str] | Any) -> str | None:
    """Give xdist worker ``gwK`` one GPU: ``CUDA_VISIBLE_DEVICES`` = the (K mod n)-th of the devices the
    controller sees (its own ``CUDA_VISIBLE_DEVICES`` list if set, else 0..n-1), before the worker
    initialises CUDA. Nothing with fewer than two GPUs or without a worker id. Returns the device."""
    if not workerid or not workerid.startswith("gw") or not workerid[2:].isdigit() or gpus < 2:
        return None
    visible = [d.strip() for d in env.get("CUDA_VISIBLE_DEVICES", "").split(",") if d.strip()]
    devices = visible[:gpus] if visible else [str(i) for i in range(gpus)]
    env["CUDA_VISIBLE_DEVICES"] = devices[int(workerid[2:]) % len(devices)]
    return env["CUDA_VISIBLE_DEVICES"]


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """xdist controller: tell each worker how many GPUs there are (counted here, once)."""
    import torch

    node.workerinput["robustcheck_gpus"] = torch.cuda.device_count() if torch.cuda.is_available() else 0


def _check_seed_option(config: pytest.Config) -> int | None:
    """--robustcheck-seed / robustcheck_seed: an int with 0 <= seed < 2**63."""
    from robustcheck.validation import SEED_LIMIT

    seed = _option(config, "seed")
    if seed is None:
        return None
    try:
        value = int(str(seed).strip())
    except ValueError:
        value = None
    if value is None or not 0 <= value < SEED_LIMIT:
        raise pytest.UsageError(
            f"--robustcheck-seed (ini robustcheck_seed) must be an integer with "
            f"0 <= seed < 2**63, got {seed!r}"
        )
    return value


def _check_device_option(config: pytest.Config, enabled: bool) -> None:
    """--robustcheck-device: auto, cpu, cuda or cuda:N; a CUDA device must exist when the run evaluates."""
    device = _option(config, "device")
    if device is None:
        return
    if not isinstance(device, str) or not _DEVICE_RE.fullmatch(device):
        raise pytest.UsageError(
            f"--robustcheck-device (ini robustcheck_device) {device!r} unknown; use auto, cpu, cuda or cuda:N"
        )
    if not enabled or not device.startswith("cuda"):
        return
    import torch

    if not torch.cuda.is_available():
        raise pytest.UsageError(
            f"--robustcheck-device={device}: CUDA is not available on this machine (torch "
            f"{torch.__version__}, cuda build {torch.version.cuda}); use auto or cpu"
        )
    index = int(device.split(":")[1]) if ":" in device else 0
    if index >= torch.cuda.device_count():
        raise pytest.UsageError(
            f"--robustcheck-device={device}: this machine has {torch.cuda.device_count()} CUDA "
            f"device(s) (cuda:0 to cuda:{torch.cuda.device_count() - 1})"
        )


def _check_suite_files(config: pytest.Config) -> None:
    """With --robustcheck, a configured robustcheck_suite_files pattern that matches no .py file under the
    rootdir is an error (a typo would otherwise collect nothing, silently). The default pattern
    (suites/*.py) may match nothing: projects using only the robustcheck_evaluate fixture have no suites."""
    patterns = list(_ini(config, "robustcheck_suite_files") or [])
    if patterns == _DEFAULT_SUITE_FILES:
        return
    root = Path(config.rootpath)
    missing = [pat for pat in patterns if not _pattern_matches(root, pat)]
    if missing:
        raise pytest.UsageError(
            f"robustcheck_suite_files: pattern(s) {', '.join(map(repr, missing))} match no .py file "
            f"under the rootdir {root} (patterns are relative to the rootdir, e.g. suites/*.py)"
        )


def _pattern_matches(root: Path, pattern: str, limit: int = 50_000) -> bool:
    import glob as _glob

    def ok(rel: str) -> bool:
        return rel.endswith(".py") and not rel.endswith("__init__.py")

    if any(ok(m) for m in _glob.iglob(pattern, root_dir=root, recursive=True)):
        return True
    # the collector matches with fnmatch ('*' crosses '/'): walk the tree, skipping hidden and venv folders
    seen = 0
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [
            d
            for d in dirnames
            if not d.startswith(".")
            and d not in ("__pycache__", "node_modules")
            and not (Path(dirpath, d) / "pyvenv.cfg").exists()
        ]
        for f in filenames:
            seen += 1
            rel = Path(dirpath, f).relative_to(root).as_posix()
            if ok(rel) and fnmatch.fnmatch(rel, pattern):
                return True
        if seen > limit:
            return True  # too big to tell: do not guess
    return False


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "robustcheck: an adversarial-robustness case evaluated by robustcheck")
    config.addinivalue_line(
        "markers",
        "robustcheck_thresholds(**bars): bars checked on every robustcheck_evaluate() call of the test, "
        "e.g. robustcheck_thresholds(corrected_accuracy=0.8)",
    )
    rootdir = Path(config.rootpath)
    worker = getattr(config, "workerinput", None)
    if worker is not None:  # before anything initialises CUDA in this worker: one GPU per worker
        assign_worker_gpu(worker.get("workerid"), int(worker.get("robustcheck_gpus", 0)), os.environ)
    enabled_ini = _ini(config, "robustcheck")  # read even under --robustcheck: a bad value is an error
    enabled = bool(config.getoption("robustcheck") or enabled_ini)
    seed_int = _check_seed_option(config)
    shard = _check_shard_option(config)
    _check_device_option(config, enabled)
    if enabled:
        _check_suite_files(config)

    def path(name: str) -> Path | None:
        v = _option(config, name)
        return None if v is None else (rootdir / v if not Path(v).is_absolute() else Path(v))

    def make_session() -> RobustcheckSession:
        from robustcheck.history import parse_tolerances
        from robustcheck.report import parse_reports
        from robustcheck.session import Options, RobustcheckSession

        reports = {
            name: (rootdir / p if not Path(p).is_absolute() else Path(p))
            for name, p in parse_reports(_option(config, "report")).items()
        }

        options = Options(
            enabled=enabled,
            device=_option(config, "device") or "auto",
            seed=seed_int,
            scale=_option(config, "scale") or "default",
            cache_dir=path("cache-dir"),
            results_dir=path("results-dir"),
            data_root=str(path("data-root")) if _option(config, "data-root") else None,
            compare=_option(config, "compare"),
            compare_fail=parse_tolerances(_option(config, "compare-fail")),
            update_baseline=bool(_option(config, "update-baseline")),
            baseline=path("baseline"),
            markdown=path("markdown"),
            reports=reports,
            report_dir=path("report-dir"),
            shard=shard,
            malloc=_option(config, "malloc") or "keep",
        )
        rc = RobustcheckSession(options)
        rc.load_reference()
        if not hasattr(config, "workerinput"):  # the controller: folders usable, stale temp files removed
            rc.startup()
        config.stash[session_key] = rc
        config.pluginmanager.register(_RecordCollector(rc), "robustcheck-records")
        return rc

    for name in [o[0] for o in _OPTIONS] + ["compare", "update-baseline"]:
        _option(config, name)  # every ini value read now: a bad one is a usage error with or without a run
    config.stash[enabled_key] = enabled
    config.stash[make_session_key] = make_session
    if enabled:  # option errors now, as a usage error, before collection
        _session(config)
    # progress lines (robustcheck.progress): through pytest's terminal writer when it is an interactive
    # terminal; off under -q, on xdist workers and in CI
    config.stash[progress_key] = progress.get_forced()
    config.stash[progress_writer_key] = progress.set_writer(_TerminalProgress(config))
    if config.getoption("verbose") < 0 or hasattr(config, "workerinput") or os.environ.get("CI"):
        progress.set_enabled(False)


class _TerminalProgress:
    """Progress lines through pytest's terminal reporter with output capture suspended (as pytest's live
    logging does): they show in a normal run, not only with ``-s``, and always as whole lines between
    pytest's own."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    def _reporter(self) -> Any:
        return self.config.pluginmanager.get_plugin("terminalreporter")

    def is_terminal(self) -> bool:
        tr = self._reporter()
        return tr is not None and bool(tr.isatty)

    def write_line(self, line: str) -> None:
        import contextlib

        tr = self._reporter()
        if tr is None:
            return
        capman = self.config.pluginmanager.get_plugin("capturemanager")
        with capman.global_and_fixture_disabled() if capman is not None else contextlib.nullcontext():
            tr.write_line(line)
            tr._tw.flush()


def _session(config: pytest.Config) -> RobustcheckSession:
    """The run's session, built on first use."""
    rc = config.stash.get(session_key, None)
    if rc is None:
        try:
            rc = config.stash[make_session_key]()
        except RobustcheckError as exc:
            raise pytest.UsageError(str(exc)) from None
    return rc


def pytest_unconfigure(config: pytest.Config) -> None:
    if progress_key in config.stash:
        progress.set_enabled(config.stash[progress_key])
    if progress_writer_key in config.stash:
        progress.set_writer(config.stash[progress_writer_key])


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
    # as a rootdir conftest.py would: suites may import the project's own modules (from my_defence import ...)
    root = str(config.rootpath)
    if root not in sys.path:
        sys.path.insert(0, root)
    # files pytest's python plugin collects anyway must not be collected twice
    if parent.session.isinitpath(file_path) or any(
        fnmatch.fnmatch(file_path.name, pat) for pat in config.getini("python_files")
    ):
        return None
    return SuiteModule.from_parent(parent, path=file_path)


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makeitem(collector: pytest.Collector, name: str, obj: object) -> Any:
    if "robustcheck.suite" not in sys.modules:  # no Suite can exist yet: nothing to import for this object
        return None
    from robustcheck.suite import Suite

    if not isinstance(obj, Suite):
        return None
    config = collector.config
    enabled = _session(config).options.enabled
    cases = obj.cases()
    config.hook.pytest_robustcheck_modify_cases(config=config, suite=obj, cases=cases)
    items = []
    for case in cases:
        item = RobustcheckItem.from_parent(collector, name=case.nodeid_name, case=case)
        item.add_marker(pytest.mark.robustcheck)
        item.add_marker(pytest.mark.xdist_group(name=f"robustcheck:{obj.dataset_id}:{obj.classifier_id}"))
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
        rc = _session(self.config)
        hook = self.config.hook

        def postprocess(metrics: dict[str, Any]) -> None:
            hook.pytest_robustcheck_metrics(config=self.config, case=self.case, metrics=metrics)

        try:
            result = rc.evaluate(self.case, postprocess=postprocess)
        except DataUnavailableError as exc:  # paper-scale suites on machines without the data
            pytest.skip(f"robustcheck: {exc}")
        deltas = rc.compare(result)
        record = rc.case_record(self.nodeid, self.case, result, deltas)
        # scores, per-sample results and (failed cases) gallery images: to the companion .npz
        self.stash[scores_key] = rc.case_arrays(result, failed=record["outcome"] != "passed")
        from robustcheck.history import strict_json

        self.user_properties.append((RECORD_PROPERTY, json.dumps(strict_json(record))))
        for k, v in result.metrics.items():
            if v is not None and not (isinstance(v, float) and math.isnan(v)):  # n/a: no JUnit property
                self.user_properties.append((k, v))
        if result.failures or record["regressions"]:
            raise RobustcheckFailure(self._failure_message(result.failures, record["regressions"]))

    def _failure_message(self, failures: list[str], regressions: list[str]) -> str:
        from robustcheck.report import inconclusive_lines

        rc = _session(self.config)
        o = rc.options
        extra = f" --robustcheck-scale={o.scale}"
        if o.seed is not None:
            extra += f" --robustcheck-seed={o.seed}"
        name = f"{self.case.suite.name}[{self.case.id}]"
        lines = []
        inconclusive = [f for f in failures if f.startswith("INCONCLUSIVE")]
        bars = [f for f in failures if not f.startswith("INCONCLUSIVE")]
        if inconclusive:
            lines += inconclusive_lines(name, inconclusive, self.case)
        if bars:
            lines.append(f"robustcheck case {name} missed its bars:")
            lines += [f"  - {f}" for f in bars]
        if regressions:
            ref = rc.reference.label if rc.reference is not None else "the reference"
            lines.append(f"robustcheck case {name} regressed against {ref}:")
            lines += [f"  - {r}" for r in regressions]
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
                # the JSON string RobustcheckItem.runtest stored (pytest types the values as object)
                self.rc.add_record(json.loads(cast(str, value)), getattr(report, "robustcheck_scores", None))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Detector scores, per-sample results and gallery images (RobustcheckSession.case_arrays) ride on the
    report (not in user_properties, so not in JUnit) to the controller."""
    outcome = yield
    if call.when == "call" and isinstance(item, RobustcheckItem) and item.stash.get(scores_key, None):
        outcome.get_result().robustcheck_scores = item.stash[scores_key]


def _is_controller(config: pytest.Config) -> bool:
    return not hasattr(config, "workerinput")


def pytest_sessionfinish(session: pytest.Session) -> None:
    config = session.config
    rc = config.stash.get(session_key, None)
    if rc is not None and _is_controller(config):

        def add_machine_info(info: dict[str, Any]) -> None:
            config.hook.pytest_robustcheck_machine_info(config=config, machine_info=info)

        rc.finish(Path(config.rootpath), add_machine_info)  # never raises: problems become summary lines
        if rc.last_record_path is not None:  # exporters (robustcheck.exporters) see the written record
            from robustcheck.hookspecs import call_run_finished

            rc.messages.extend(call_run_finished(config, rc.last_record_path))  # never raises either


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    rc = config.stash.get(session_key, None)
    if rc is None or not rc.options.enabled:
        return
    from robustcheck.report import format_table

    tr = terminalreporter
    delta_metrics = rc.delta_metrics() if rc.reference is not None else None
    for suite, recs in rc.by_suite().items():
        ref = f", vs {rc.reference.label}" if rc.reference is not None else ""
        tr.write_sep("=", f"robustcheck: {suite} (scale={rc.options.scale}{ref})")
        tr.write_line(format_table(recs, delta_metrics))
    if rc.last_record_path is not None:
        tr.write_line(f"robustcheck run record: {rc.last_record_path}")
    for line in dict.fromkeys(rc.messages):
        tr.write_line(line)


# ---------------------------------------------------------------------------- fixtures
@pytest.fixture
def robustcheck_evaluate(request: pytest.FixtureRequest) -> Any:
    """Evaluate one case from an ordinary test; returns :class:`robustcheck.api.Metrics`.

    ``robustcheck_evaluate(defence, attack, eps=..., threat="grey-box", **case_kwargs)`` with the same
    keyword arguments as :func:`robustcheck.api.build_case`. It uses the run's engine (scale, device,
    cache and seed options) and checks the bars of the test's ``robustcheck_thresholds`` marker. An
    inconclusive case (raised integrity indicators) fails the test unless ``allow_inconclusive=`` is
    given (to the call or the marker). Like suite items, such tests are skipped unless ``--robustcheck``
    is given.
    """
    if not request.config.stash[enabled_key]:
        pytest.skip("run with --robustcheck")
    from robustcheck.api import Metrics, build_case, check_case_kwargs
    from robustcheck.report import inconclusive_lines

    rc = _session(request.config)
    bars: dict[str, float] = {}
    for mark in reversed(list(request.node.iter_markers("robustcheck_thresholds"))):
        bars.update(mark.kwargs)  # the closest marker wins

    def evaluate(defence: Any, attack: str, *, eps: float, **case_kwargs: Any) -> Metrics:
        thresholds = {**bars, **case_kwargs.pop("thresholds", {})}
        try:
            check_case_kwargs(case_kwargs, "robustcheck_evaluate")
            case = build_case(defence, attack, eps=eps, thresholds=thresholds or None, **case_kwargs)
            result = Metrics(rc.evaluate(case))
        except RobustcheckError as exc:
            pytest.fail(f"robustcheck: {exc}", pytrace=False)
        request.node.user_properties.append(
            (RECORD_PROPERTY + ":" + result.case_id, json.dumps(dict(result)))
        )
        if result.failures:
            inconclusive = [f for f in result.failures if f.startswith("INCONCLUSIVE")]
            missed = [f for f in result.failures if not f.startswith("INCONCLUSIVE")]
            lines = inconclusive_lines(result.case_id, inconclusive) if inconclusive else []
            if missed:
                lines += [f"robustcheck case {result.case_id} missed its bars:"] + [
                    f"  - {f}" for f in missed
                ]
            pytest.fail("\n".join(lines), pytrace=False)
        return result

    return evaluate
