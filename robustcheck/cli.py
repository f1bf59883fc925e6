"""``robustcheck`` / ``python -m robustcheck``: list what is registered, show the run history and a
metric's trend over runs, compare two runs and draw the plots of a saved run.

Example:
    $ robustcheck list attacks
    $ robustcheck list cases --rootdir . --suite-files 'suites/*.py'
    $ robustcheck history
    $ robustcheck trend --metric corrected_accuracy --last 5 --png trend.png
    $ robustcheck compare baseline latest --fail corrected_accuracy:0.02
    $ robustcheck plot latest --out report/

Exit codes: 0 success; 1 ``compare`` found a regression beyond tolerance (unless ``--no-fail``);
2 a usage or configuration error (bad option, unknown run, unreadable record, matplotlib missing for a
PNG).
"""

from __future__ import annotations

import argparse
import glob
import importlib.util
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tabulate import tabulate

from robustcheck import history
from robustcheck.errors import ConfigError, RobustcheckError
from robustcheck.metrics import METRICS

DEFAULT_RESULTS = ".robustcheck/results"
DEFAULT_BASELINE = "robustcheck-baseline.json"


def load_suites(rootdir: Path, patterns: Sequence[str]) -> list[tuple[Path, Any]]:
    """Import every file matching ``patterns`` under ``rootdir``; returns (file, Suite) pairs."""
    from robustcheck.suite import Suite

    if str(rootdir) not in sys.path:
        sys.path.insert(0, str(rootdir))
    out = []
    for pattern in patterns:
        for name in sorted(glob.glob(pattern, root_dir=rootdir)):
            path = rootdir / name
            if path.name == "__init__.py" or path.suffix != ".py":
                continue
            spec = importlib.util.spec_from_file_location(f"_robustcheck_suites_{path.stem}", path)
            if spec is None or spec.loader is None:
                continue
            module = importlib.util.module_from_spec(spec)
            try:
                spec.loader.exec_module(module)
            except RobustcheckError as exc:
                raise ConfigError(f"{name}: {exc}") from None
            out += [(path, obj) for obj in vars(module).values() if isinstance(obj, Suite)]
    return out


def _cmd_list(args: argparse.Namespace) -> int:
    rows: list[tuple[object, ...]]  # table rows for tabulate
    if args.what == "attacks":
        from robustcheck.attacks import ATTACKS

        rows = [(n, getattr(ATTACKS.get(n), "norm", ""), _first_line(ATTACKS.get(n))) for n in ATTACKS]
        print(tabulate(rows, headers=["attack", "norm", "description"]))
    elif args.what == "defences":
        from robustcheck.defences import DEFENCES

        rows = []
        for n in DEFENCES:
            cls = DEFENCES.get(n)
            kind = (
                "+".join(
                    k
                    for k, f in (("detector", "is_detector"), ("purifier", "is_purifier"))
                    if getattr(cls, f, False)
                )
                or "-"
            )
            rows.append((n, kind, "yes" if getattr(cls, "trainable", False) else "no", _first_line(cls)))
        print(tabulate(rows, headers=["defence", "kind", "trained", "description"]))
    else:
        root = Path(args.rootdir).resolve()
        suites = load_suites(root, args.suite_files)
        if args.what == "suites":
            rows = [(s.name, p.relative_to(root).as_posix(), s.dataset_id, len(s.cases())) for p, s in suites]
            print(tabulate(rows, headers=["suite", "file", "dataset", "cases"]))
        else:
            for p, s in suites:
                for c in s.cases():
                    print(f"{p.relative_to(root).as_posix()}::{c.nodeid_name}")
    return 0


def _first_line(obj: Any) -> str:
    """First docstring line of a class, else of its module."""
    doc = (obj.__doc__ or sys.modules[obj.__module__].__doc__ or "").strip()
    return doc.splitlines()[0] if doc else ""


def _load_runs(
    results_dir: str, last: int | None = None
) -> tuple[list[tuple[Path, dict[str, Any]]], list[str]]:
    """The readable run records of ``results_dir`` (the ``last`` ones), oldest first, and a line per
    unreadable record."""
    paths = history.list_runs(results_dir)
    runs, skipped = [], []
    for path in paths:
        try:
            runs.append((path, history.load_run(path)))
        except ConfigError as exc:
            skipped.append(f"skipped {path.name}: {exc}")
    return (runs[-last:] if last else runs), skipped


def _dash(value: Any) -> str:
    return "-" if value is None or value == "" else str(value)


def _cmd_history(args: argparse.Namespace) -> int:
    rows: list[tuple[object, ...]] = []
    for path in history.list_runs(args.results_dir):
        try:
            rec = history.load_run(path)
        except ConfigError as exc:
            rows.append((history.run_number(path), path.name, "unreadable", str(exc)[:60]))
            continue
        git = rec.get("git") or {}
        commit = (git.get("commit") or "")[:10]
        if commit and git.get("dirty"):
            commit += "+dirty"
        counts = history.run_counts(rec)
        rows.append(
            (
                history.run_number(path),
                _dash((rec.get("started") or "")[:19]),
                _dash(",".join(rec.get("suites") or {})),
                _dash(rec.get("scale")),
                _dash(history.run_seed(rec)),
                _dash(commit),
                _dash(rec.get("device")),
                counts["passed"],
                counts["failed"],
                counts["inconclusive"],
                _dash(rec.get("compared_with")),
            )
        )
    if not rows:
        print(f"no saved runs in {args.results_dir}")
        return 0
    print(
        tabulate(
            rows,
            headers=[
                "run",
                "started (UTC)",
                "suites",
                "scale",
                "seed",
                "commit",
                "device",
                "passed",
                "failed",
                "inconclusive",
                "compared with",
            ],
            disable_numparse=True,
        )
    )
    return 0


def _cmd_trend(args: argparse.Namespace) -> int:
    if args.last is not None and args.last < 1:
        raise ConfigError(f"--last must be at least 1, got {args.last}")
    tolerance = None
    if args.tolerance is not None:
        tolerance = history.parse_tolerances({args.metric: args.tolerance})[args.metric]
    runs, skipped = _load_runs(args.results_dir, args.last)
    for line in skipped:
        print(f"robustcheck: {line}", file=sys.stderr)
    if not runs:
        print(f"no saved runs in {args.results_dir}")
        return 0
    trend = history.metric_trend(runs, args.metric, suites=args.suite, cases=args.case, tolerance=tolerance)
    if not trend.cases:
        what = " and ".join(
            x
            for x in (
                f"suite {', '.join(args.suite)}" if args.suite else "",
                f"case {' or '.join(args.case)}" if args.case else "",
            )
            if x
        )
        raise ConfigError(f"no case of the {len(runs)} run(s) in {args.results_dir} matches {what}")
    if args.png:
        from robustcheck.plots import write_trend

        png = write_trend(trend, args.png)
    several_suites = len({suite for suite, _ in trend.cases}) > 1
    rows = []
    for (suite, case), points in trend.cases.items():
        row = [suite, case] if several_suites else [case]
        rows.append(row + [_trend_cell(p) for p in points])
    headers = (["suite", "case"] if several_suites else ["case"]) + [r.label for r in trend.runs]
    direction = "higher" if trend.higher_is_better else "lower"
    suites = sorted({suite for suite, _ in trend.cases})
    print(
        f"{trend.metric} ({direction} is better) over runs, {'suites' if several_suites else 'suite'} "
        f"{', '.join(suites)}"
    )
    print(tabulate(rows, headers=headers, disable_numparse=True, stralign="left"))
    print(
        f"↓/↑: moved down/up since the case's previous run by more than the tolerance "
        f"{trend.tolerance.describe()}; !: that move is worse ({direction} is better); "
        f"-: not in that run; n/a: no value"
    )
    worsened = trend.worsened()
    if worsened:
        print(f"{len(worsened)} value(s) worse than the run before beyond tolerance:")
        for suite, case, run in worsened:
            print(f"  {suite}[{case}] in run {run.label}")
    if args.png:
        print(f"trend chart: {png}")
    return 0


def _trend_cell(p: history.TrendPoint | None) -> str:
    if p is None:
        return "-"
    if p.value is None:  # a number that became NaN has worsened, without a direction
        return "n/a !" if p.worsened else "n/a"
    text = f"{p.value:.4f}"
    if p.worsened or p.improved:
        # the arrow is the way the value moved; worse is the way the metric's direction says is bad
        hib = METRICS[p.metric].higher_is_better if p.metric in METRICS else True
        down = (p.worsened and hib) or (p.improved and not hib)
        text += " ↓" if down else " ↑"
        if p.worsened:
            text += "!"
    return text


def _reference(
    spec: str, args: argparse.Namespace
) -> tuple[str, dict[str, Any], dict[str, history.Tolerance], dict[str, bool]]:
    if spec == "baseline":
        ref = history.load_baseline(args.baseline)
        return ref.label, {"suites": ref.suites}, ref.tolerances, ref.directions
    ref = history.reference_from_run(history.resolve_run(spec, args.results_dir))  # a baseline by path too
    return ref.label, {"suites": ref.suites}, ref.tolerances, ref.directions


def _cmd_compare(args: argparse.Namespace) -> int:
    label_a, a, tol_a, directions = _reference(args.run_a, args)
    label_b, b, _, _ = _reference(args.run_b, args)
    # tolerances: --fail, else the baseline file's, else the metrics' declared ones
    given = history.parse_tolerances(args.fail) if args.fail else None
    tolerances, source = history.gating_tolerances(given, tol_a)
    source = {"given": "--fail", "reference": label_a}.get(source, source)
    rows, regressions = [], 0
    for suite, case, d in history.compare_runs(a, b, tolerances, directions):
        if not args.all and d.metric not in tolerances:
            continue
        regressions += d.regressed
        rows.append(
            (
                suite,
                case,
                d.metric,
                _f(d.before),
                _f(d.after),
                _f(d.delta, signed=True),
                "higher" if d.higher_is_better else "lower",
                d.tolerance.describe() if d.tolerance else "",
                "REGRESSED" if d.regressed else "",
            )
        )
    print(
        f"A = {label_a}\nB = {label_b}\ntolerances ({source}): "
        + ", ".join(f"{m}:{t.describe()}" for m, t in sorted(tolerances.items()))
    )
    print(
        tabulate(
            rows,
            headers=["suite", "case", "metric", "A", "B", "Δ (B-A)", "better", "tolerance", ""],
            disable_numparse=True,
        )
    )
    missing = history.missing_cases(a, b)
    if missing:  # shown, not gated: a partial run (-k, a shard) misses cases by design
        print(
            f"{len(missing)} case(s) of A have no result in B (dropped from the suite, deselected or in "
            f"another shard; not gated): "
            + ", ".join(f"{suite}[{case}]" for suite, case in missing[:20])
            + (f" and {len(missing) - 20} more" if len(missing) > 20 else "")
        )
    if regressions:
        print(
            f"{regressions} regression(s) beyond tolerance" + (" (exit 0: --no-fail)" if args.no_fail else "")
        )
        return 0 if args.no_fail else 1
    print("no regression beyond tolerance")
    return 0


def _f(v: float | None, signed: bool = False) -> str:
    if v is None or math.isnan(v):
        return "n/a"
    return f"{v:+.4f}" if signed else f"{v:.4f}"


def _cmd_plot(args: argparse.Namespace) -> int:
    from robustcheck.plots import write_plots

    path = history.resolve_run(args.run, args.results_dir)
    paths = write_plots(history.load_run(path), history.load_scores(path), args.out)
    for p in paths:
        print(p)
    if not paths:
        print(f"run {path.name} has nothing to plot")
    return 0


def _cmd_merge(args: argparse.Namespace) -> int:
    record, arrays = history.merge_runs(args.runs)
    path = history.save_run(args.results_dir, record, arrays)
    n = sum(len(c) for c in record["suites"].values())
    print(f"merged {len(args.runs)} runs ({n} cases) into {path}")
    return 0


COMPARE_EPILOG = """\
tolerances: --fail if given, else the baseline file's (when A is 'baseline'), else the metrics' declared
defaults (robustcheck.metrics.METRICS). A metric regresses when it moves in its bad direction by more than
its tolerance.

exit codes:
  0  no regression beyond tolerance (or --no-fail)
  1  at least one regression beyond tolerance
  2  usage or configuration error (unknown run, unreadable record or baseline, bad tolerance)
"""

TREND_EPILOG = """\
One row per case, one column per run (number and start date), the metric's value in each. A value that
moved since the case's previous run by more than the tolerance gets an arrow (the way it moved) and a !
when that is the metric's bad direction (robustcheck.metrics.METRICS). Family rows show the worst case, as
in the results table.

exit codes:
  0  the table was printed (and the PNG written)
  2  usage or configuration error (unknown metric, no case matches, matplotlib missing for --png)
"""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="robustcheck",
        description=__doc__.split("\n\n")[0],
        epilog="exit codes: 0 success, 1 compare found a regression, 2 usage or configuration error",
    )
    sub = p.add_subparsers(dest="command", required=True)
    ls = sub.add_parser("list", help="list suites, cases, attacks or defences")
    ls.add_argument("what", choices=["suites", "cases", "attacks", "defences"])
    ls.add_argument("--rootdir", default=".", help="project root the suite files are relative to")
    ls.add_argument("--suite-files", nargs="+", default=["suites/*.py"], help="glob patterns of suite files")
    for name, help_, epilog in (
        ("history", "table of saved runs: suites, scale, seed, commit, pass/fail/inconclusive counts", None),
        ("trend", "a metric over the saved runs, per case (table, and a PNG with --png)", TREND_EPILOG),
        ("compare", "per-case metric deltas of two runs; exit 1 on a regression", COMPARE_EPILOG),
        ("plot", "draw ROC and accuracy-vs-ε plots of a saved run", None),
        ("merge", "join the records of shards (--robustcheck-shard) into one run", None),
    ):
        sp = sub.add_parser(
            name,
            help=help_,
            description=help_,
            epilog=epilog,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        sp.add_argument(
            "--results-dir", default=DEFAULT_RESULTS, help=f"run records (default {DEFAULT_RESULTS})"
        )
        if name == "trend":
            sp.add_argument(
                "--metric",
                default="corrected_accuracy",
                help="metric of robustcheck.metrics.METRICS (default corrected_accuracy)",
            )
            sp.add_argument("--suite", action="append", help="only this suite (repeat for several)")
            sp.add_argument(
                "--case", action="append", metavar="GLOB", help="only case ids matching GLOB (repeatable)"
            )
            sp.add_argument("--last", type=int, metavar="N", help="only the last N readable runs")
            sp.add_argument(
                "--tolerance",
                metavar="T",
                help="how far a value may move in its bad direction unmarked: 0.02 or 1%% "
                "(default: the metric's declared tolerance, else 0)",
            )
            sp.add_argument("--png", metavar="PATH", help="also draw the trend as a PNG (needs matplotlib)")
        if name == "compare":
            sp.add_argument("run_a", help="reference: run number, record path, 'latest' or 'baseline'")
            sp.add_argument("run_b", help="run to judge: run number, record path, 'latest' or 'baseline'")
            sp.add_argument("--baseline", default=DEFAULT_BASELINE, help="baseline file for 'baseline'")
            sp.add_argument(
                "--fail",
                "--tolerances",
                dest="fail",
                metavar="TOLERANCES",
                help="tolerances to gate on, e.g. corrected_accuracy:0.02,detection_auc:1%%",
            )
            sp.add_argument(
                "--no-fail", action="store_true", help="exit 0 even when there are regressions (report only)"
            )
            sp.add_argument("--all", action="store_true", help="show every metric, not only the gated ones")
        if name == "merge":
            sp.add_argument("runs", nargs="+", help="record paths of the shards' runs")
        if name == "plot":
            sp.add_argument("run", help="run number, record path or 'latest'")
            sp.add_argument("--out", required=True, help="folder for the PNG files")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler = {
        "list": _cmd_list,
        "history": _cmd_history,
        "trend": _cmd_trend,
        "compare": _cmd_compare,
        "plot": _cmd_plot,
        "merge": _cmd_merge,
    }
    try:
        return handler[args.command](args)
    except RobustcheckError as exc:
        print(f"robustcheck: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # an output path that is a file, unwritable, ...: one line, no traceback
        where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
        print(f"robustcheck: error: {exc.strerror or exc}{where}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
