"""The robustcheck run: options, the evaluation engine, the reference to compare with, and the results
gathered from reports.

One :class:`RobustcheckSession` lives in ``config.stash`` per pytest process. Evaluation happens
where the item runs (a worker under xdist), and so does the regression check against the reference;
results reach the controller through the reports (``user_properties`` for metrics, a report attribute
for score arrays) and are aggregated and written there alone (:meth:`RobustcheckSession.finish`).
"""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from robustcheck import allocator, history, report, safefiles
from robustcheck.allocator import MALLOC_SETTINGS
from robustcheck.engine import Engine
from robustcheck.errors import ConfigError, RobustcheckError
from robustcheck.evaluate import CaseResult, evaluate
from robustcheck.suite import SCALE_NAMES, Case


@dataclass
class Options:
    enabled: bool = False
    device: str = "auto"
    seed: int | None = None
    scale: str = "default"
    cache_dir: Path | None = None
    results_dir: Path | None = None
    data_root: str | None = None
    compare: str | None = None  # "baseline", a run number or a record path
    compare_fail: dict[str, history.Tolerance] = field(default_factory=dict)
    update_baseline: bool = False
    baseline: Path | None = None
    markdown: Path | None = None  # the same as reports={"markdown": path}
    reports: dict[str, Path] = field(default_factory=dict)  # report format -> path (robustcheck.report)
    report_dir: Path | None = None
    shard: tuple[int, int] | None = None  # (i, n): this run evaluates shard i of n (1-based)
    malloc: str = "keep"  # "keep": glibc keeps freed tensor memory (robustcheck.allocator); "system"

    def report_paths(self) -> dict[str, Path]:
        """Every report to write at the end of the run: ``reports``, with ``markdown`` as its ``markdown``."""
        out = dict(self.reports)
        if self.markdown is not None:
            out.setdefault("markdown", self.markdown)
        return out

    def __post_init__(self) -> None:
        if self.scale not in SCALE_NAMES:
            raise ConfigError(f"--robustcheck-scale {self.scale!r} unknown; known: {', '.join(SCALE_NAMES)}")
        if self.device not in ("auto", "cpu", "cuda") and not self.device.startswith("cuda:"):
            raise ConfigError(f"--robustcheck-device {self.device!r} unknown; use auto, cpu or cuda")
        if self.malloc not in MALLOC_SETTINGS:
            raise ConfigError(
                f"--robustcheck-malloc {self.malloc!r} unknown; use {' or '.join(MALLOC_SETTINGS)}"
            )
        if self.compare_fail and self.compare is None:
            self.compare = "baseline"  # --robustcheck-compare-fail alone compares with the baseline


@dataclass
class RobustcheckSession:
    options: Options
    records: list[dict[str, Any]] = field(default_factory=list)
    started: str = field(default_factory=lambda: _dt.datetime.now(_dt.timezone.utc).isoformat())
    reference: history.Reference | None = None
    messages: list[str] = field(default_factory=list)  # shown in the terminal summary
    #: the companion file's arrays: "<suite>/<case>/<kind>" -> numpy array (see README, "Per-sample results")
    scores: dict[str, Any] = field(default_factory=dict)
    last_record_path: Path | None = None
    _engine: Engine | None = None

    # ------------------------------------------------------------------ setup
    def load_reference(self) -> None:
        """Load what this run is compared with; a missing baseline is a hint, a bad one an error."""
        o = self.options
        if not o.enabled or o.compare is None:
            return
        if o.compare == "baseline":
            if o.baseline is None or not o.baseline.exists():
                self.messages.append(self.missing_baseline_hint())
                return
            self.reference = history.load_baseline(o.baseline)
        else:
            if o.results_dir is None:
                raise ConfigError("--robustcheck-compare=RUN needs a results directory")
            self.reference = history.reference_from_run(history.resolve_run(o.compare, o.results_dir))
        if self.reference.scale not in (None, o.scale):
            raise ConfigError(
                f"the {self.reference.label} holds results at scale {self.reference.scale!r}; this run is at "
                f"scale {o.scale!r}: their numbers come from different sample sizes and cannot be compared "
                f"(compare with a reference of scale {o.scale!r})"
            )

    def startup(self) -> None:
        """At the start of a run (the controller): the cache and results folders must be usable (one
        ConfigError naming the folder and the fix otherwise), and temp files that killed runs left in the
        folders robustcheck writes to are removed (those of live processes are kept; see
        :mod:`robustcheck.safefiles`)."""
        o = self.options
        if not o.enabled:
            return
        if o.cache_dir is not None:
            from robustcheck.cache import lock_timeout_from_env

            lock_timeout_from_env()  # ROBUSTCHECK_LOCK_TIMEOUT: a bad value is an error now, not per item
            safefiles.check_folder(o.cache_dir, "cache", "--robustcheck-cache-dir", subfolders=True)
        if o.results_dir is not None:
            safefiles.check_folder(o.results_dir, "results", "--robustcheck-results-dir")
        # every file the run writes at its end: usable now, not found unusable after the evaluation
        outputs = [
            (f"{name} report", "--robustcheck-report", path) for name, path in o.report_paths().items()
        ]
        if o.update_baseline and o.baseline is not None:
            outputs.append(("baseline", "--robustcheck-baseline", o.baseline))
        for what, option, path in outputs:
            safefiles.check_folder(path.parent, f"{what}'s", option)
            if path.is_dir():
                raise ConfigError(
                    f"the robustcheck {what} path {path} is a folder; give {option} a file path"
                )
        if o.report_dir is not None:
            safefiles.check_folder(o.report_dir, "plots", "--robustcheck-report-dir")
        if o.update_baseline and o.baseline is not None and o.baseline.is_file():
            base = history.load_baseline(o.baseline)  # a malformed one: its error now, not after the run
            if base.suites and base.scale not in (None, o.scale):
                raise ConfigError(
                    f"the baseline {o.baseline} holds results at scale {base.scale!r}; this run is at scale "
                    f"{o.scale!r}, and one baseline mixing the two would compare numbers of different "
                    f"sample sizes: give this scale its own file (--robustcheck-baseline)"
                )
        removed = safefiles.clean_stale_temps(o.cache_dir, depth=1) + safefiles.clean_stale_temps(
            o.results_dir
        )
        removed += safefiles.clean_stale_temps(o.report_dir)
        for f in (o.baseline, *o.report_paths().values()):
            if f is not None:
                removed += safefiles.clean_stale_temps(f.parent, targets=[f.name])
        if removed:
            folders = ", ".join(sorted({str(p.parent) for p in removed}))
            self.messages.append(
                f"robustcheck: removed {len(removed)} temp file(s) left by interrupted runs in {folders}"
            )

    def missing_baseline_hint(self) -> str:
        return (
            f"robustcheck: no baseline at {self.options.baseline}; create it from a run with "
            f"`pytest --robustcheck --robustcheck-update-baseline` and commit the file"
        )

    @property
    def tolerances(self) -> dict[str, history.Tolerance]:
        """Command line (--robustcheck-compare-fail) beats the baseline file's tolerances, which beat the
        metrics' declared defaults (a saved run as the reference has none): the rule of
        ``robustcheck compare`` (:func:`robustcheck.history.gating_tolerances`). Nothing to compare with:
        none."""
        if self.reference is None:
            return dict(self.options.compare_fail)
        return history.gating_tolerances(self.options.compare_fail, self.reference.tolerances)[0]

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            o = self.options
            self._engine = Engine(
                device=o.device,
                scale=o.scale,
                seed=o.seed,
                malloc=o.malloc,
                data_root=o.data_root,
                cache_dir=str(o.cache_dir) if o.cache_dir is not None else None,
            )
        return self._engine

    # ------------------------------------------------------------------ per item (any process)
    def evaluate(self, case: Case, postprocess: Any = None) -> CaseResult:
        return evaluate(self.engine, case, postprocess=postprocess)

    def compare(self, result: CaseResult) -> list[history.Delta]:
        ref = self.reference.case(result.suite, result.case_id) if self.reference is not None else None
        if ref is None:
            return []
        directions = self.reference.directions if self.reference is not None else {}
        return history.compare_metrics(ref, result.metrics, self.tolerances, directions)

    def case_record(
        self, nodeid: str, case: Case, result: CaseResult, deltas: list[history.Delta]
    ) -> dict[str, Any]:
        regressions = [d.describe() for d in deltas if d.regressed]
        ok = not result.failures and not regressions
        # cache events of this process (entries dropped and recomputed, ...) ride to the controller in the
        # record; add_record moves them to the terminal summary
        events = self.engine.cache.drain_events()
        record = ({"cache_events": events} if events else {}) | {
            "suite": result.suite,
            "case": result.case_id,
            "nodeid": nodeid,
            "seed": self.engine.seed(case.suite),
            # what was measured: data and classifier identity and hashes, the evaluated defence
            "measured": self.engine.provenance(case),
            "metrics": {
                k: (None if v is not None and math.isnan(v) else v) for k, v in result.metrics.items()
            },
            "bars": {k: b.describe() for k, b in result.bars.items()},
            "outcome": "passed" if ok else "FAILED",
            # passed / failed / inconclusive (raised integrity indicators: fails) / inconclusive-allowed
            "status": result.status if ok or result.status == "inconclusive" else "failed",
            "inconclusive": dict(result.inconclusive),
            "inconclusive_allowed": list(result.inconclusive_allowed),
            "failures": result.failures,
            "compared_with": self.reference.label if self.reference is not None else None,
            "deltas": {d.metric: d.to_json() for d in deltas},  # a number that became n/a included
            "regressions": regressions,
            # evaluation-integrity indicators (EVALUATION.md): 1 = raised, 0 = quiet, absent = not applicable
            "indicators": {
                k: flag
                for k in report.INDICATOR_FLAGS
                if (flag := result.metrics.get(k)) is not None and not math.isnan(flag)
            },
        }
        # the paper's values of this case (Suite(references=...)): shown beside ours, never gating
        paper = {m: {"value": ref.value, "source": ref.source} for m, ref in case.references().items()}
        if paper:
            record["paper"] = paper
        return record

    @staticmethod
    def case_arrays(result: CaseResult, *, failed: bool) -> dict[str, dict[str, Any]]:
        """A case's arrays for the run record's companion file, encoded (:func:`encode_array`) to travel in
        a report to the xdist controller: the detector scores (``clean``, ``adv``, ``successful``), the
        per-sample results (:data:`robustcheck.engine.PER_SAMPLE_KEYS`) and, for a ``failed`` case only,
        its gallery images (:data:`robustcheck.engine.GALLERY_KEYS`)."""
        from robustcheck.engine import GALLERY_KEYS

        out = {k: encode_array(t) for k, t in result.scores.items()}
        for k, t in result.samples.items():
            if failed or k not in GALLERY_KEYS:
                out[k] = encode_array(t)
        return out

    # ------------------------------------------------------------------ controller
    def add_record(self, record: dict[str, Any], arrays: dict[str, Any] | None = None) -> None:
        """Add a case record and its arrays (:meth:`case_arrays`: kind -> encoded array; a plain list
        is taken as it is) under ``<suite>/<case>/<kind>``."""
        self.messages.extend(record.pop("cache_events", None) or [])
        self.records.append(record)
        for kind, values in (arrays or {}).items():
            key = f"{record['suite']}/{record['case']}/{kind}"
            self.scores[key] = decode_array(values) if isinstance(values, dict) else values

    def by_suite(self) -> dict[str, list[dict[str, Any]]]:
        out: dict[str, list[dict[str, Any]]] = {}
        for r in self.records:
            out.setdefault(r["suite"], []).append(r)
        return out

    def run_record(
        self, rootpath: Path, add_machine_info: Callable[[dict[str, Any]], None] | None = None
    ) -> dict[str, Any]:
        import torch

        from robustcheck.report import git_info, machine_info

        o = self.options
        info = machine_info()
        if self._engine is None and o.malloc == "keep" and allocator.available():
            info["malloc"] = "keep"  # an xdist controller: the workers' engines applied it
        if add_machine_info is not None:
            add_machine_info(info)
        return {
            "schema": history.SCHEMA,
            "started": self.started,
            "finished": _dt.datetime.now(_dt.timezone.utc).isoformat(),
            "scale": o.scale,
            "seed_override": o.seed,
            "seeds": {r["suite"]: r.get("seed") for r in self.records},
            "device": o.device if o.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu"),
            "machine": info,
            "packages": history.package_versions(),
            "git": git_info(rootpath),
            "compared_with": self.reference.label if self.reference is not None else None,
            "tolerances": {m: t.describe() for m, t in self.tolerances.items()},
            "shard": f"{o.shard[0]}/{o.shard[1]}" if o.shard else None,
            "suites": {name: {r["case"]: r for r in recs} for name, recs in self.by_suite().items()},
        }

    def finish(
        self, rootpath: Path, add_machine_info: Callable[[dict[str, Any]], None] | None = None
    ) -> None:
        """Write the run record, the baseline, the Markdown summary and the plots. Never raises: every
        problem becomes a line of the terminal summary."""
        o = self.options
        if self._engine is not None:  # events of this process not yet reported with a case
            self.messages.extend(self._engine.cache.drain_events())
        if not o.enabled or not self.records:
            return
        record = self.run_record(rootpath, add_machine_info)
        ref = self.reference
        if ref is not None and (missing := history.missing_cases({"suites": ref.suites}, record)):
            self.messages.append(  # shown, not gated: -k and shards leave cases out by design
                f"robustcheck: {len(missing)} case(s) of the {ref.label} have no result in this run "
                f"(dropped from the suite, deselected or in another shard): "
                + ", ".join(f"{suite}[{case}]" for suite, case in missing[:10])
                + (f" and {len(missing) - 10} more" if len(missing) > 10 else "")
            )
        if o.results_dir is not None:
            try:
                arrays = {k: _as_array(k, v) for k, v in self.scores.items()}
                self.last_record_path = history.save_run(o.results_dir, record, arrays)
            except (OSError, ValueError) as exc:
                self.messages.append(f"robustcheck: could not write the run record: {exc}")
        if o.update_baseline and o.baseline is not None:
            try:
                history.write_baseline(
                    o.baseline,
                    record,
                    tolerances=o.compare_fail or None,
                    source=self.last_record_path.name if self.last_record_path else None,
                )
                self.messages.append(f"robustcheck: baseline written to {o.baseline} (commit it)")
            except (OSError, RobustcheckError) as exc:
                self.messages.append(f"robustcheck: could not write the baseline: {exc}")
        elif o.baseline is not None and not o.baseline.exists() and o.compare is None:
            self.messages.append(self.missing_baseline_hint())
        if o.report_paths():
            from robustcheck.report import REPORT_FORMATS

            for name, target in o.report_paths().items():
                try:
                    # the saved record's path lets a format read its companion arrays and sibling runs
                    saved = self.last_record_path
                    shown = record | {"_record_path": str(saved)} if saved is not None else record
                    text = REPORT_FORMATS[name].render(shown, self.delta_metrics())
                    history.atomic_write(target, text.encode())
                    self.messages.append(f"robustcheck: {name} report: {target}")
                except (OSError, RobustcheckError) as exc:
                    self.messages.append(f"robustcheck: could not write the {name} report: {exc}")
        if o.report_dir is not None:
            from robustcheck.plots import write_plots

            try:
                scores = {k: _as_array(k, v) for k, v in self.scores.items()}
                paths = write_plots(record, scores, o.report_dir)
                self.messages.append(f"robustcheck: {len(paths)} plot(s) in {o.report_dir}")
            except (OSError, RobustcheckError) as exc:
                self.messages.append(f"robustcheck: no plots: {exc}")

    def delta_metrics(self) -> list[str]:
        """Metrics shown in the Δ-vs-baseline column: the gated ones."""
        from robustcheck.report import DEFAULT_DELTA_METRICS

        return sorted(self.tolerances) or list(DEFAULT_DELTA_METRICS)


def _as_array(key: str, values: Any) -> Any:
    import numpy as np

    if isinstance(values, np.ndarray):
        return values
    return np.asarray(values, dtype=bool if key.endswith("/successful") else np.float32)


def encode_array(t: Any) -> dict[str, Any]:
    """A tensor or array as ``{"dtype", "shape", "b64"}`` (little-endian bytes, base64): exact, compact,
    and plain JSON-able data for a pytest report (xdist, report-log)."""
    import base64

    import numpy as np

    a = np.ascontiguousarray(t.detach().cpu().numpy() if hasattr(t, "detach") else np.asarray(t))
    a = a.astype(a.dtype.newbyteorder("<"), copy=False)
    return {"dtype": a.dtype.name, "shape": list(a.shape), "b64": base64.b64encode(a.tobytes()).decode()}


def decode_array(obj: dict[str, Any]) -> Any:
    """The numpy array of :func:`encode_array`'s dict."""
    import base64

    import numpy as np

    dtype = np.dtype(obj["dtype"]).newbyteorder("<")
    a = np.frombuffer(base64.b64decode(obj["b64"]), dtype=dtype).reshape(obj["shape"])
    return a.astype(a.dtype.newbyteorder("="))
