"""Run history, the committed baseline file and regression checks with a per-metric direction.

Run records are numbered JSON files (``0001_20250101T120000Z.json``) under the results directory,
written atomically by the process that aggregates results (the xdist controller, or the only
process). Per-case detector scores, needed to draw ROC curves, go to a sidecar ``.npz`` with the
same stem. A leftover temp file from a killed writer starts with a dot, names its writer's pid, is never
read as a run and is removed by the next run (:func:`robustcheck.safefiles.clean_stale_temps`). A run
killed before its end leaves no record: the record is written once, complete, when the run finishes.

The baseline (``robustcheck-baseline.json`` in the rootdir by default) holds, per suite and case, the
value of each metric, and per metric the direction (from :data:`robustcheck.metrics.METRICS`, never
"bigger is worse") and the tolerance a regression must exceed to fail the item.

Example:
    >>> tol = parse_tolerances("corrected_accuracy:0.02,detection_auc:1%")
    >>> before, after = {"corrected_accuracy": 0.90}, {"corrected_accuracy": 0.85}
    >>> [d.describe() for d in compare_metrics(before, after, tol)]
    ['corrected_accuracy: before 0.9000, after 0.8500 (Δ -0.0500), tolerance 0.02 (higher is better)']
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import re
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from robustcheck import safefiles
from robustcheck.errors import ConfigError
from robustcheck.metrics import METRICS

SCHEMA = 2
BASELINE_SCHEMA = 1
RECORD_RE = re.compile(r"^(\d{4,})_[^.]*\.json$")


def default_tolerances() -> str:
    """Tolerances written into a new baseline when none are given: the metrics a defence is gated on, each
    with its declared ``tolerance`` (:data:`robustcheck.metrics.METRICS`), e.g.
    ``"defended_clean_accuracy:0.01,corrected_accuracy:0.02,..."`` (read by :func:`parse_tolerances`)."""
    return ",".join(f"{m.name}:{m.tolerance:g}" for m in METRICS.values() if m.tolerance is not None)


def __getattr__(name: str) -> Any:
    """``DEFAULT_TOLERANCES``: :func:`default_tolerances`, derived from the declarations when read."""
    if name == "DEFAULT_TOLERANCES":
        return default_tolerances()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


PACKAGES = (
    "pytest-robustcheck",
    "torch",
    "torchvision",
    "numpy",
    "scipy",
    "torchattacks",
    "foolbox",
    "pytest",
    "pytest-xdist",
    "scikit-learn",
    "matplotlib",
)


def package_versions(names: Iterable[str] = PACKAGES) -> dict[str, str | None]:
    """Installed versions of the packages a result depends on (None where not installed)."""
    from importlib.metadata import PackageNotFoundError, version

    out: dict[str, str | None] = {}
    for n in names:
        try:
            out[n] = version(n)
        except PackageNotFoundError:
            out[n] = None
    return out


# ---------------------------------------------------------------------------- atomic files
def _atomic_temp(folder: Path, blob: bytes, target: str = "rc") -> str:
    """Write ``blob`` to a fsynced hidden temp file for ``target`` in ``folder`` (named after this process,
    so that the next run removes it if this one is killed) with ordinary permissions."""
    return safefiles.write_temp(Path(folder), target, lambda fh: fh.write(blob))


def atomic_write(path: Path, blob: bytes) -> None:
    """Replace ``path`` with ``blob`` atomically (temp file + rename)."""
    safefiles.atomic_write(Path(path), blob)


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, indent=2, sort_keys=True, default=_json_default, allow_nan=False).encode()


def _json_default(obj: Any) -> Any:
    if hasattr(obj, "tolist"):  # numpy / torch scalars and arrays
        return obj.tolist()
    return repr(obj)


def strict_json(obj: Any) -> Any:
    """NaN / inf become None (n/a): every record, and the JSON property of a test report, is strict JSON."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: strict_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [strict_json(v) for v in obj]
    return obj


# ---------------------------------------------------------------------------- run records
def run_number(path: Path) -> int | None:
    m = RECORD_RE.match(path.name)
    return int(m.group(1)) if m else None


def list_runs(results_dir: str | os.PathLike[str]) -> list[Path]:
    """Saved run records, oldest first (by number). Temp files and other files are ignored."""
    folder = Path(results_dir)
    if not folder.is_dir():
        return []
    runs = [p for p in folder.iterdir() if p.is_file() and run_number(p) is not None]
    return sorted(runs, key=lambda p: (run_number(p), p.name))


def save_run(
    results_dir: str | os.PathLike[str], record: Mapping[str, Any], arrays: Mapping[str, Any] | None = None
) -> Path:
    """Write ``record`` as the next numbered run, atomically, and ``arrays`` to a sidecar ``.npz``.

    Both are written to temp files first (the sidecar before the record). The record's temp file is then
    hard-linked to the next free number (a link never overwrites, so two concurrent writers get distinct
    numbers) and the sidecar renamed next to it: a reader sees a complete record or none, and a killed
    writer leaves only temp files, which the next run removes (stale ones are removed here too).
    """
    folder = Path(results_dir)
    folder.mkdir(parents=True, exist_ok=True)
    safefiles.clean_stale_temps(folder)
    side_tmp: str | None = None
    if arrays:
        import numpy as np

        blob = {k: np.asarray(v) for k, v in arrays.items()}

        def write_npz(fh: Any) -> None:
            # numpy's stub types **kwds as arrays, but mypy also matches **blob to allow_pickle: bool
            np.savez_compressed(fh, **blob)  # type: ignore[arg-type]

        side_tmp = safefiles.write_temp(folder, "run.npz", write_npz)
    tmp: str | None = None
    try:
        tmp = record_tmp = _atomic_temp(folder, _dumps(strict_json(dict(record))), "run.json")
        for _ in range(1000):
            numbers = [run_number(p) or 0 for p in list_runs(folder)]
            stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
            path = folder / f"{max(numbers, default=0) + 1:04d}_{stamp}.json"
            try:  # a link never overwrites: two concurrent writers get distinct numbers
                safefiles.publish_temp(record_tmp, path, exclusive=True)
                tmp = None
                break
            except FileExistsError:
                continue
        else:  # pragma: no cover - a thousand concurrent writers
            raise OSError(f"could not find a free run number in {folder}")
        if side_tmp is not None:
            safefiles.publish_temp(side_tmp, path.with_suffix(".npz"))
            side_tmp = None
    finally:
        for t in (tmp, side_tmp):
            if t is not None:
                Path(t).unlink(missing_ok=True)
    return path


def load_run(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read one run record; a truncated or foreign file gives a ConfigError naming it."""
    p = Path(path)
    try:
        rec = json.loads(p.read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"run record {p} is unreadable: {exc}") from None
    from robustcheck.validation import check_run_record

    check_run_record(f"run record {p}", rec, schema=SCHEMA)  # every field read back, one clear error
    return rec


def merge_runs(paths: Sequence[str | os.PathLike[str]]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Join the records (and score arrays) of runs that evaluated disjoint shares of the same suites
    (``--robustcheck-shard``, or several machines) into one record. The runs must agree on scale and
    seed override; a case in two records must have identical metrics (else: a ConfigError naming it)."""
    if len(paths) < 2:
        raise ConfigError(f"merge needs at least two run records, got {len(paths)}")
    records = [(Path(p), load_run(p)) for p in paths]
    first = records[0][1]
    merged: dict[str, Any] = {k: v for k, v in first.items() if k not in ("suites", "shard", "seeds")}
    merged["suites"], merged["seeds"], merged["merged_from"] = {}, {}, []
    arrays: dict[str, Any] = {}
    seen: dict[Path, str] = {}
    for path, rec in records:
        if path.resolve() in seen:
            raise ConfigError(f"cannot merge {path.name}: it is given twice")
        seen[path.resolve()] = path.name
        # what every number depends on must agree: the scale, the seeds, the device, the installed versions
        for field_ in ("scale", "seed_override", "device", "packages"):
            if rec.get(field_) != first.get(field_):
                raise ConfigError(
                    f"cannot merge {path.name}: its {field_} is {rec.get(field_)!r}, the first record's "
                    f"{first.get(field_)!r}"
                )
        for suite, seed in (rec.get("seeds") or {}).items():
            if suite in merged["seeds"] and merged["seeds"][suite] != seed:
                raise ConfigError(
                    f"cannot merge {path.name}: suite {suite!r} ran with seed {seed!r} there and "
                    f"{merged['seeds'][suite]!r} in an earlier record"
                )
        merged["merged_from"].append(
            {"record": path.name, "shard": rec.get("shard"), "started": rec.get("started")}
        )
        merged["seeds"].update(rec.get("seeds") or {})
        for suite, cases in rec["suites"].items():
            into = merged["suites"].setdefault(suite, {})
            for case, entry in cases.items():
                if case in into and into[case]["metrics"] != entry["metrics"]:
                    raise ConfigError(
                        f"cannot merge {path.name}: case {suite}[{case}] is in two records with different "
                        f"metrics"
                    )
                into[case] = entry
        arrays.update(load_scores(path))
    merged["started"] = min(r.get("started") or "" for _, r in records) or None
    merged["finished"] = max(r.get("finished") or "" for _, r in records) or None
    merged["shard"] = None
    return merged, arrays


def load_scores(record_path: str | os.PathLike[str]) -> dict[str, Any]:
    """The sidecar arrays of a run (``{"<suite>/<case>/<clean|adv|successful>": ndarray}``), or {}."""
    side = Path(record_path).with_suffix(".npz")
    if not side.exists():
        return {}
    import numpy as np

    try:
        with np.load(side) as z:
            return {k: z[k] for k in z.files}
    except (OSError, ValueError, zipfile.BadZipFile) as exc:  # a corrupt sidecar only loses ROC plots
        raise ConfigError(f"score file {side} is unreadable: {exc}") from None


def resolve_run(spec: str | os.PathLike[str], results_dir: str | os.PathLike[str]) -> Path:
    """A run given as a number (``3``, ``0003``), ``latest``, or a path to a record."""
    s = str(spec)
    runs = list_runs(results_dir)
    if s == "latest":
        if not runs:
            raise ConfigError(f"no saved runs in {results_dir}")
        return runs[-1]
    if s.isdigit():
        hits = [p for p in runs if run_number(p) == int(s)]
        if not hits:
            known = ", ".join(str(run_number(p)) for p in runs) or "none"
            raise ConfigError(f"no saved run number {s} in {results_dir}; saved: {known}")
        return hits[-1]
    p = Path(s)
    if not p.is_file():
        raise ConfigError(f"run {s!r} is neither a run number nor an existing record file")
    return p


def case_metrics(record: Mapping[str, Any]) -> dict[str, dict[str, dict[str, float | None]]]:
    """``{suite: {case: {metric: value}}}`` of a run record or a baseline."""
    out: dict[str, dict[str, dict[str, float | None]]] = {}
    for suite, cases in record.get("suites", {}).items():
        for case, entry in cases.items():
            m = entry.get("metrics", entry) if isinstance(entry, dict) else {}
            out.setdefault(suite, {})[case] = {k: v for k, v in m.items() if k in METRICS}
    return out


# ---------------------------------------------------------------------------- tolerances
@dataclass(frozen=True)
class Tolerance:
    """How far a metric may move in its bad direction before it is a regression.

    Args:
        metric: a metric of :data:`robustcheck.metrics.METRICS`.
        value: absolute amount, or percent of the reference value when ``relative``.
        relative: ``True`` for the ``1%`` form.
    """

    metric: str
    value: float
    relative: bool = False

    def allowed(self, before: float) -> float:
        return abs(before) * self.value / 100.0 if self.relative else self.value

    def describe(self) -> str:
        return f"{self.value:g}%" if self.relative else f"{self.value:g}"


def parse_tolerances(text: str | Mapping[str, Any] | None) -> dict[str, Tolerance]:
    """Parse ``"corrected_accuracy:0.02,detection_auc:1%"`` (or a ``{metric: "0.02"}`` mapping)."""
    if text is None:
        return {}
    items = (
        list(text.items())
        if isinstance(text, Mapping)
        else [
            tuple(part.split(":", 1)) if ":" in part else (part, None)
            for part in (p.strip() for p in text.replace("\n", ",").split(","))
            if part
        ]
    )
    if not items and not isinstance(text, Mapping):  # "," names no metric: not a silent "compare off"
        raise ConfigError(f"compare-fail: {text!r} names no metric; give e.g. corrected_accuracy:0.02")
    out: dict[str, Tolerance] = {}
    for metric, raw in items:
        metric = str(metric).strip()
        if metric in out:
            raise ConfigError(f"compare-fail: {metric!r} is given twice; give each metric one tolerance")
        if metric not in METRICS:
            raise ConfigError(f"compare-fail: unknown metric {metric!r}; known: {', '.join(sorted(METRICS))}")
        if raw is None or str(raw).strip() == "":
            raise ConfigError(
                f"compare-fail: {metric!r} needs a tolerance, e.g. {metric}:0.02 or {metric}:1%"
            )
        s = str(raw).strip()
        relative = s.endswith("%")
        try:
            value = float(s[:-1] if relative else s)
        except ValueError:
            raise ConfigError(
                f"compare-fail: tolerance {s!r} of {metric!r} is not a number "
                f"(use {metric}:0.02 or {metric}:1%)"
            ) from None
        if not math.isfinite(value) or value < 0:
            raise ConfigError(
                f"compare-fail: tolerance of {metric!r} must be a finite number >= 0, got {s!r}"
            )
        out[metric] = Tolerance(metric, value, relative)
    return out


# ---------------------------------------------------------------------------- comparison
@dataclass(frozen=True)
class Delta:
    """One metric of one case against its reference value."""

    metric: str
    before: float | None
    after: float | None
    higher_is_better: bool
    tolerance: Tolerance | None = None

    @property
    def delta(self) -> float | None:
        if self.before is None or self.after is None:
            return None
        return self.after - self.before

    @property
    def regressed(self) -> bool:
        """Worse than ``before`` by more than the tolerance; a NaN where a number was is a regression."""
        if self.tolerance is None or self.before is None or math.isnan(self.before):
            return False
        if self.after is None or math.isnan(self.after):
            return True
        worse = (self.before - self.after) if self.higher_is_better else (self.after - self.before)
        return worse > self.tolerance.allowed(self.before) + 1e-12

    def describe(self) -> str:
        def f(v: float | None) -> str:
            return "n/a" if v is None else ("nan" if math.isnan(v) else f"{v:.4f}")

        d = self.delta
        tol = self.tolerance.describe() if self.tolerance else "none"
        direction = "higher is better" if self.higher_is_better else "lower is better"
        dtext = f" (Δ {d:+.4f})" if d is not None and not math.isnan(d) else ""
        return (
            f"{self.metric}: before {f(self.before)}, after {f(self.after)}{dtext}, "
            f"tolerance {tol} ({direction})"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "before": self.before,
            "after": self.after,
            "delta": self.delta,
            "tolerance": self.tolerance.describe() if self.tolerance else None,
            "higher_is_better": self.higher_is_better,
            "regressed": self.regressed,
        }


def compare_metrics(
    before: Mapping[str, float | None],
    after: Mapping[str, float | None],
    tolerances: Mapping[str, Tolerance],
    directions: Mapping[str, bool] | None = None,
) -> list[Delta]:
    """Deltas for every metric present (as a number) in ``before`` and measured in ``after`` (a key of it;
    a value of None or NaN there is "n/a": a regression where a tolerance applies); direction from METRICS
    unless given."""
    out = []
    for metric, b in before.items():
        if metric not in METRICS or b is None or metric not in after:
            continue
        hib = (directions or {}).get(metric, METRICS[metric].higher_is_better)
        a = after[metric]
        a = None if a is None or math.isnan(float(a)) else float(a)
        out.append(Delta(metric, float(b), a, hib, tolerances.get(metric)))
    return out


# ---------------------------------------------------------------------------- baseline
@dataclass
class Reference:
    """What a run is compared with: the baseline file or a saved run."""

    label: str
    suites: dict[str, dict[str, dict[str, float | None]]]
    tolerances: dict[str, Tolerance] = field(default_factory=dict)
    directions: dict[str, bool] = field(default_factory=dict)
    scale: str | None = None  # the scale its numbers were measured at (None: not recorded)

    def case(self, suite: str, case: str) -> dict[str, float | None] | None:
        return self.suites.get(suite, {}).get(case)


def load_baseline(path: str | os.PathLike[str]) -> Reference:
    """Read and validate a baseline file (a clear ConfigError for every bad field)."""
    p = Path(path)
    try:
        data = json.loads(p.read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"baseline {p} is unreadable: {exc}") from None
    from robustcheck.validation import check_baseline

    check_baseline(f"baseline {p}", data, schema=BASELINE_SCHEMA)  # every field, one clear error
    tolerances: dict[str, Tolerance] = {}
    directions: dict[str, bool] = {}
    for metric, spec in (data.get("metrics") or {}).items():
        if metric not in METRICS:
            raise ConfigError(f"baseline {p}: unknown metric {metric!r}; known: {', '.join(sorted(METRICS))}")
        if not isinstance(spec, dict):
            raise ConfigError(
                f"baseline {p}: metrics.{metric} must be {{'direction': ..., 'tolerance': ...}}"
            )
        direction = spec.get("direction", "higher" if METRICS[metric].higher_is_better else "lower")
        if direction not in ("higher", "lower"):
            raise ConfigError(
                f"baseline {p}: metrics.{metric}.direction must be 'higher' or 'lower', got {direction!r}"
            )
        directions[metric] = direction == "higher"
        if spec.get("tolerance") is not None:
            try:
                tolerances.update(parse_tolerances({metric: spec["tolerance"]}))
            except ConfigError as exc:
                raise ConfigError(f"baseline {p}: {exc}") from None
    return Reference(f"baseline {p.name}", case_metrics(data), tolerances, directions, data.get("scale"))


def reference_from_run(path: str | os.PathLike[str]) -> Reference:
    """A saved run's record as a reference; a baseline file given by its path is read as a baseline (with
    its tolerances and directions)."""
    p = Path(path)
    try:
        data = json.loads(p.read_text())
    except (OSError, ValueError):
        data = None  # load_run names the problem
    if isinstance(data, dict) and "source_run" in data and "started" not in data:
        return load_baseline(p)
    record = load_run(p)
    return Reference(f"run {p.name}", case_metrics(record), scale=record.get("scale"))


def gating_tolerances(
    given: Mapping[str, Tolerance] | None, reference: Mapping[str, Tolerance] | None
) -> tuple[dict[str, Tolerance], str]:
    """The tolerances a comparison gates on, and where they come from: ``given`` (``--fail``,
    ``--robustcheck-compare-fail``), else the reference's (a baseline file's), else the metrics' declared
    defaults (:func:`default_tolerances`) — the same rule for ``robustcheck compare`` and a pytest run."""
    if given:
        return dict(given), "given"
    if reference:
        return dict(reference), "reference"
    return parse_tolerances(default_tolerances()), "the metrics' defaults"


def missing_cases(reference: Mapping[str, Any], run: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(suite, case) of the reference's cases with a measured number that ``run`` does not have, for the
    suites ``run`` evaluated at all (a case dropped from a suite, deselected or in another shard)."""
    ma, mb = case_metrics(reference), case_metrics(run)
    return [
        (suite, case)
        for suite, cases in sorted(ma.items())
        if suite in mb
        for case, metrics in sorted(cases.items())
        if case not in mb[suite] and any(v is not None for v in metrics.values())
    ]


def write_baseline(
    path: str | os.PathLike[str],
    run: Mapping[str, Any],
    *,
    source: str | None,
    tolerances: Mapping[str, Tolerance] | None = None,
) -> dict[str, Any]:
    """Merge the cases of ``run`` into the baseline at ``path`` (cases not in this run are kept) and
    rewrite it atomically. Tolerances: the file's own, else ``tolerances``, else
    :func:`default_tolerances`."""
    p = Path(path)
    old: dict[str, Any] = {}
    if p.exists():
        try:
            old = json.loads(p.read_text())
        except ValueError:
            old = {}  # not JSON: replaced, not merged
        else:  # JSON that is not a valid baseline: one error naming the field; the file is left as it is
            from robustcheck.validation import check_baseline

            check_baseline(f"baseline {p}", old, schema=BASELINE_SCHEMA)
            load_baseline(p)  # its metrics' directions and tolerances too
            if old.get("suites") and old.get("scale") not in (None, run.get("scale")):
                raise ConfigError(
                    f"baseline {p} holds results at scale {old['scale']!r}; this run is at scale "
                    f"{run.get('scale')!r}, and one baseline mixing the two would compare numbers of "
                    f"different sample sizes: give this scale its own file (--robustcheck-baseline)"
                )
    metrics_spec = dict(old.get("metrics") or {})
    if not metrics_spec:
        tol = dict(tolerances) if tolerances else parse_tolerances(default_tolerances())
        metrics_spec = {
            m: {"direction": "higher" if METRICS[m].higher_is_better else "lower", "tolerance": t.describe()}
            for m, t in sorted(tol.items())
        }
    suites: dict[str, Any] = {s: dict(c) for s, c in (old.get("suites") or {}).items()}
    for suite, cases in case_metrics(run).items():
        for case, m in cases.items():
            if any(v is not None for v in m.values()):
                suites.setdefault(suite, {})[case] = {k: m[k] for k in sorted(m)}
    data = {
        "schema": BASELINE_SCHEMA,
        "updated": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "source_run": source,
        "scale": run.get("scale"),
        "metrics": metrics_spec,
        "suites": suites,
    }
    atomic_write(p, _dumps(strict_json(data)))
    return data


def compare_runs(
    a: Mapping[str, Any],
    b: Mapping[str, Any],
    tolerances: Mapping[str, Tolerance] | None = None,
    directions: Mapping[str, bool] | None = None,
) -> list[tuple[str, str, Delta]]:
    """(suite, case, delta) for every metric of a case of both runs that ``a`` (the reference) measured as a
    number and ``b`` measured at all (n/a in ``b`` is a regression where a tolerance applies); a metric's
    direction from ``directions`` (a baseline's), else from METRICS."""
    ma, mb = case_metrics(a), case_metrics(b)
    out: list[tuple[str, str, Delta]] = []
    for suite, cases in mb.items():
        for case, after in cases.items():
            before = ma.get(suite, {}).get(case)
            if before is None:
                continue
            out.extend((suite, case, d) for d in compare_metrics(before, after, tolerances or {}, directions))
    return out


# ---------------------------------------------------------------------------- runs at a glance, trends
def run_counts(record: Mapping[str, Any]) -> dict[str, int]:
    """``{"passed", "failed", "inconclusive"}`` case counts of a run record. ``passed`` includes the cases
    passed with an allowed inconclusive indicator; ``inconclusive`` counts the failed items whose
    evaluation itself was inconclusive (``status``), ``failed`` the other failed ones."""
    out = {"passed": 0, "failed": 0, "inconclusive": 0}
    for cases in (record.get("suites") or {}).values():
        for entry in cases.values():
            if entry.get("outcome") == "passed":
                out["passed"] += 1
            elif entry.get("status") == "inconclusive":
                out["inconclusive"] += 1
            else:
                out["failed"] += 1
    return out


def run_seed(record: Mapping[str, Any]) -> str | None:
    """The seed of a run as one short text: the ``--robustcheck-seed`` override, else the suites' seed
    (``suite=seed,...`` where they differ); None when the record holds none."""
    if record.get("seed_override") is not None:
        return str(record["seed_override"])
    seeds = {s: v for s, v in (record.get("seeds") or {}).items() if v is not None}
    if not seeds:
        return None
    if len(set(seeds.values())) == 1:
        return str(next(iter(seeds.values())))
    return ",".join(f"{s}={v}" for s, v in sorted(seeds.items()))


@dataclass(frozen=True)
class TrendPoint:
    """The value of a trend's metric for one case in one run.

    ``value`` is None where the run has the case but not the metric as a number (NaN, or not defined for
    the case); a run without the case has no point at all (None in :attr:`Trend.cases`). ``worsened`` /
    ``improved``: moved in the metric's bad / good direction by more than the tolerance since the previous
    point with a number (a number that became NaN has worsened, as in :class:`Delta`). ``metric`` is the
    metric read: on a family row the declared ``family_column`` (the worst case), as in the results table.
    """

    value: float | None
    metric: str
    worsened: bool = False
    improved: bool = False


@dataclass(frozen=True)
class TrendRun:
    """One column of a trend: a saved run."""

    number: int | None
    name: str
    started: str | None

    @property
    def label(self) -> str:
        """``#3 2025-01-31`` (run number and start date)."""
        return f"#{self.number if self.number is not None else '?'} {(self.started or '')[:10]}".strip()


@dataclass
class Trend:
    """A metric over runs, per case: ``cases[(suite, case)]`` has one point (or None) per run of ``runs``."""

    metric: str
    higher_is_better: bool
    tolerance: Tolerance
    runs: list[TrendRun]
    cases: dict[tuple[str, str], list[TrendPoint | None]]

    def worsened(self) -> list[tuple[str, str, TrendRun]]:
        """(suite, case, run) of every point that worsened beyond the tolerance."""
        return [
            (suite, case, run)
            for (suite, case), points in self.cases.items()
            for run, p in zip(self.runs, points, strict=True)
            if p is not None and p.worsened
        ]


def metric_trend(
    runs: Sequence[tuple[str | os.PathLike[str], Mapping[str, Any]]],
    metric: str,
    *,
    suites: Sequence[str] | None = None,
    cases: Sequence[str] | None = None,
    tolerance: Tolerance | None = None,
) -> Trend:
    """``metric`` over ``runs`` (``(record path, record)`` pairs, oldest first: :func:`list_runs` +
    :func:`load_run`), one row per case of the selected ``suites`` (names) whose id matches one of the
    ``cases`` globs (:func:`fnmatch.fnmatchcase`). Each point is compared with the case's previous point
    with a number, in the metric's direction (:data:`robustcheck.metrics.METRICS`) and with ``tolerance``
    (default: the metric's declared ``tolerance``, else 0: every move counts)."""
    from fnmatch import fnmatchcase

    if metric not in METRICS:
        raise ConfigError(f"unknown metric {metric!r}; known: {', '.join(sorted(METRICS))}")
    info = METRICS[metric]
    tol = tolerance or Tolerance(metric, info.tolerance if info.tolerance is not None else 0.0)
    columns = [
        TrendRun(run_number(Path(p)), Path(p).name, rec.get("started") or rec.get("finished"))
        for p, rec in runs
    ]
    table: dict[tuple[str, str], list[TrendPoint | None]] = {}
    for i, (_, rec) in enumerate(runs):
        for suite, entries in (rec.get("suites") or {}).items():
            if suites and suite not in suites:
                continue
            for case, entry in entries.items():
                if cases and not any(fnmatchcase(case, g) for g in cases):
                    continue
                m = entry.get("metrics") or {}
                shown = metric
                if "|family=" in case and info.family_column and metric not in m:
                    shown = info.family_column
                value = m.get(shown)
                row = table.setdefault((suite, case), [None] * len(runs))
                row[i] = TrendPoint(
                    None if value is None or not math.isfinite(value) else float(value), shown
                )
    for key, row in table.items():
        previous: float | None = None
        for i, p in enumerate(row):
            if p is None:
                continue
            if previous is not None:
                hib = METRICS[p.metric].higher_is_better if p.metric in METRICS else info.higher_is_better
                worse = Delta(p.metric, previous, p.value, hib, tol).regressed
                better = p.value is not None and Delta(p.metric, p.value, previous, hib, tol).regressed
                row[i] = TrendPoint(p.value, p.metric, worsened=worse, improved=better)
            if p.value is not None:
                previous = p.value
        table[key] = row
    return Trend(metric, info.higher_is_better, tol, columns, table)
