"""``robustcheck`` / ``python -m robustcheck``: list what is registered, show the run history, compare
two runs and draw the plots of a saved run.

Example:
    $ robustcheck list attacks
    $ robustcheck list cases --rootdir . --suite-files 'suites/*.py'
    $ robustcheck history
    $ robustcheck compare baseline latest --fail corrected_accuracy:0.02
    $ robustcheck plot latest --out report/
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


def _cmd_history(args: argparse.Namespace) -> int:
    rows: list[tuple[object, ...]] = []
    for path in history.list_runs(args.results_dir):
        try:
            rec = history.load_run(path)
        except ConfigError as exc:
            rows.append((history.run_number(path), path.name, "unreadable", "", "", "", "", str(exc)[:40]))
            continue
        cases = [c for s in rec["suites"].values() for c in s.values()]
        failed = sum(c.get("outcome") != "passed" for c in cases)
        git = rec.get("git") or {}
        commit = (git.get("commit") or "")[:10] + ("+dirty" if git.get("dirty") else "")
        rows.append(
            (
                history.run_number(path),
                (rec.get("started") or "")[:19],
                commit,
                rec.get("scale"),
                rec.get("device"),
                len(cases) - failed,
                failed,
                rec.get("compared_with") or "",
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
                "commit",
                "scale",
                "device",
                "passed",
                "failed",
                "compared with",
            ],
            disable_numparse=True,
        )
    )
    return 0


def _reference(
    spec: str, args: argparse.Namespace
) -> tuple[str, dict[str, Any], dict[str, history.Tolerance]]:
    if spec == "baseline":
        ref = history.load_baseline(args.baseline)
        return ref.label, {"suites": ref.suites}, ref.tolerances
    path = history.resolve_run(spec, args.results_dir)
    return f"run {path.name}", history.load_run(path), {}


def _cmd_compare(args: argparse.Namespace) -> int:
    label_a, a, tol_a = _reference(args.run_a, args)
    label_b, b, _ = _reference(args.run_b, args)
    tolerances = history.parse_tolerances(args.fail) if args.fail else tol_a
    rows, regressions = [], 0
    for suite, case, d in history.compare_runs(a, b, tolerances):
        if not args.all and d.metric not in (tolerances or {"corrected_accuracy", "detection_auc"}):
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
    print(f"A = {label_a}\nB = {label_b}")
    print(
        tabulate(
            rows,
            headers=["suite", "case", "metric", "A", "B", "Δ (B-A)", "better", "tolerance", ""],
            disable_numparse=True,
        )
    )
    if regressions:
        print(f"{regressions} regression(s) beyond tolerance")
    return 1 if regressions and args.fail else 0


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


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="robustcheck", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    ls = sub.add_parser("list", help="list suites, cases, attacks or defences")
    ls.add_argument("what", choices=["suites", "cases", "attacks", "defences"])
    ls.add_argument("--rootdir", default=".", help="project root the suite files are relative to")
    ls.add_argument("--suite-files", nargs="+", default=["suites/*.py"], help="glob patterns of suite files")
    for name, help_ in (
        ("history", "table of saved runs"),
        ("compare", "per-case metric deltas of two runs"),
        ("plot", "draw ROC and accuracy-vs-ε plots of a saved run"),
        ("merge", "join the records of shards (--robustcheck-shard) into one run"),
    ):
        sp = sub.add_parser(name, help=help_)
        sp.add_argument(
            "--results-dir", default=DEFAULT_RESULTS, help=f"run records (default {DEFAULT_RESULTS})"
        )
        if name == "compare":
            sp.add_argument("run_a", help="reference: run number, record path, 'latest' or 'baseline'")
            sp.add_argument("run_b", help="run to judge: run number, record path, 'latest' or 'baseline'")
            sp.add_argument("--baseline", default=DEFAULT_BASELINE, help="baseline file for 'baseline'")
            sp.add_argument(
                "--fail",
                help="tolerances, e.g. corrected_accuracy:0.02,detection_auc:1%%; exit 1 on a regression",
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
        "compare": _cmd_compare,
        "plot": _cmd_plot,
        "merge": _cmd_merge,
    }
    try:
        return handler[args.command](args)
    except RobustcheckError as exc:
        print(f"robustcheck: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
