"""Epoch curve of defences of a suite: does a defence reach its accuracy with more training, or not?

Usage:
    OMP_NUM_THREADS=1 python benchmarks/epoch_curve.py --suite suites/replication_003.py \
        [--defence ID [KEY=VALUE ...]] ... [--epochs 5,10,20,40] [--scale default]
        [--case ATTACK_ID:EPS [--metric detection_auc]] [--cache-dir .robustcheck/cache]
        [--png PATH] [--json PATH] [--title TEXT]
    python benchmarks/epoch_curve.py --from-json PATH --png PATH    # re-draw a saved run, no training

``--defence`` (repeatable) names a defence of the suite by its id (``dae-stp0.4``) or any registered
defence by name, optionally followed by ``KEY=VALUE`` constructor parameters that are added to (and
override) the suite's, e.g. ``--defence "vae lr=0.003 scale=0"`` (values are Python literals, else
strings); default: every defence of the suite except ``none``. For each defence and each epoch count E of
``--epochs`` the suite is re-made with only that defence and its ``--scale`` scale's ``defence_epochs`` set
to E, and robustcheck's :class:`~robustcheck.engine.Engine` trains (or loads from ``--cache-dir``) and
calibrates the defence exactly as a suite run does, so every number is the one the suite would report at
that budget. Reported per point: the defended clean accuracy on the scale's test digits (no attack is run
for it) and, with ``--case ATTACK_ID:EPS``, that case's ``--metric`` (the suite's threat model; the attack
runs, e.g. ``--case deepfool:4 --metric detection_auc``), plus the wall time of the point (training,
unless cached, and evaluation). The classifier's own clean accuracy on the same digits is printed as the
ceiling. ``--png`` draws the curves (matplotlib, Agg backend); ``--json`` writes the rows, which
``--from-json`` prints and draws again without running anything.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import importlib.util
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def load_suite(path: str) -> Any:
    """The ``SUITE`` of a suite file (a path, or a name under suites/ such as ``replication_003``)."""
    p = Path(path)
    if not p.exists():
        p = ROOT / "suites" / (path if path.endswith(".py") else f"{path}.py")
    spec = importlib.util.spec_from_file_location(f"_epoch_curve_{p.stem}", p)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load suite file {path!r}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.SUITE


def parse_value(text: str) -> Any:
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def parse_defence(text: str, suite: Any) -> Any:
    """``ID [KEY=VALUE ...]`` → a :class:`~robustcheck.suite.Defence` (the suite's, with the extra params)."""
    from robustcheck.suite import Defence

    first, *rest = text.split()
    extra = {}
    for item in rest:
        if "=" not in item:
            raise SystemExit(f"--defence {text!r}: {item!r} is not KEY=VALUE")
        k, v = item.split("=", 1)
        extra[k] = parse_value(v)
    base = next((d for d in suite.defences if not isinstance(d, str) and d.id == first), None)
    if base is None:
        base = next((d for d in suite.defences if isinstance(d, str) and d == first), None)
        base = Defence(first) if base is None else Defence(base)
    params = {**base.params, **extra}
    label = base.id + "".join(f" {k}={v}" for k, v in extra.items())
    ident = base.id + "".join(f"-{k}{v}" for k, v in extra.items())
    ident = "".join(c if c.isalnum() or c in "-_." else "_" for c in ident)
    return label, Defence(base.name, id=ident, **params)


def report(saved: dict[str, Any], png: str | None, title: str | None) -> None:
    """Print the table of a run (``saved``: what ``--json`` writes) and draw it to ``png`` if given."""
    from tabulate import tabulate

    rows, clean, metric = saved["rows"], saved["classifier_clean_accuracy"], saved["metric"]
    labels = list(dict.fromkeys(r["defence"] for r in rows))
    epochs = sorted({r["epochs"] for r in rows})
    print()
    print(
        f"epoch curve: suite {saved['suite']}, scale {saved['scale']}, {saved['n_test']} test digits, "
        f"classifier clean accuracy {clean:.4f}" + (f", case {saved['case']}" if metric else "")
    )
    headers = ["defence", "epochs", "def.clean"] + ([metric] if metric else []) + ["seconds"]
    table = [
        [r["defence"], r["epochs"], r["defended_clean_accuracy"]]
        + ([r[metric]] if metric else [])
        + [f"{r['seconds']:.0f}"]
        for r in rows
    ]
    print(tabulate(table, headers=headers, floatfmt=".4f"))
    if not png:
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = [("defended_clean_accuracy", "defended clean accuracy")]
    if metric:
        series.append((metric, f"{metric} ({saved['case']})"))
    fig, axes = plt.subplots(1, len(series), figsize=(6.5 * len(series), 4.5), squeeze=False)
    for ax, (key, ylabel) in zip(axes[0], series, strict=True):
        for label in labels:
            pts = [(r["epochs"], r[key]) for r in rows if r["defence"] == label and r.get(key) is not None]
            ax.plot([e for e, _ in pts], [v for _, v in pts], marker="o", label=label)
        if key == "defended_clean_accuracy":
            ax.axhline(clean, color="black", linestyle="--", linewidth=1, label=f"classifier {clean:.3f}")
            ax.axhline(0.93, color="red", linestyle=":", linewidth=1, label="0.93")
        ax.set_xscale("log", base=2)
        ax.set_xticks(epochs, [str(e) for e in epochs])
        ax.set_xlabel("defence training epochs")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    default_title = f"{saved['suite']}, scale {saved['scale']}, {saved['n_test']} test digits"
    fig.suptitle(title or default_title, fontsize=10)
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    print(f"wrote {png}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--suite", help="suite file, or its name under suites/")
    p.add_argument("--from-json", default=None, help="print and draw the rows of a --json file")
    p.add_argument("--defence", action="append", default=[], help="ID [KEY=VALUE ...] (repeatable)")
    p.add_argument("--epochs", default="5,10,20,40")
    p.add_argument("--scale", default="default")
    p.add_argument("--case", default=None, help="ATTACK_ID:EPS of one attack case to evaluate too")
    p.add_argument("--metric", default="corrected_accuracy", help="the --case metric")
    p.add_argument("--device", default="cpu")
    p.add_argument("--cache-dir", default=str(ROOT / ".robustcheck" / "cache"))
    p.add_argument("--png", default=None)
    p.add_argument("--json", default=None)
    p.add_argument("--title", default=None)
    args = p.parse_args(argv)
    if args.from_json:
        saved = json.loads(Path(args.from_json).read_text())
        report(saved, args.png, args.title)
        return 0
    if not args.suite:
        p.error("--suite is required (or --from-json)")

    import torch

    from robustcheck.engine import Engine
    from robustcheck.evaluate import evaluate as evaluate_case
    from robustcheck.metrics import METRICS

    torch.set_num_threads(1)
    if args.metric not in METRICS:
        p.error(f"unknown metric {args.metric!r}; known: {', '.join(sorted(METRICS))}")
    suite = load_suite(args.suite)
    base_scale = suite.scale(args.scale)
    epochs = sorted({int(e) for e in args.epochs.split(",") if e.strip()})
    texts = args.defence or [
        d if isinstance(d, str) else d.id
        for d in suite.defences
        if (d if isinstance(d, str) else d.name) != "none"
    ]
    specs = [parse_defence(t, suite) for t in texts]
    attack_id, eps = None, None
    if args.case:
        attack_id, _, e = args.case.partition(":")
        eps = float(e) if e else None
    eng = Engine(device=args.device, scale=args.scale, cache_dir=args.cache_dir)

    def case_of(spec: Any, n_epochs: int) -> Any:
        s = dataclasses.replace(
            suite,
            defences=[spec],
            scales={**suite.scales, args.scale: dataclasses.replace(base_scale, defence_epochs=n_epochs)},
            references=[],
            thresholds=[],
        )
        cases = s.cases()
        if attack_id is None:
            return cases[0]
        for c in cases:
            if c.attack.id == attack_id and (eps is None or math.isclose(c.eps, eps)):
                return c
        raise SystemExit(f"--case {args.case!r}: no such case in {suite.name!r}")

    first = case_of(specs[0][1], epochs[0])
    clf = eng.classifier(first.suite)
    x, y, _ = eng.case_inputs(first)
    with torch.inference_mode():
        clean = float((clf.module(x).argmax(1) == y).float().mean())
    print(
        f"suite {suite.name}, scale {args.scale}: {x.shape[0]} test digits, train_limit "
        f"{base_scale.train_limit}, classifier clean accuracy {clean:.4f}; torch {torch.__version__}, "
        f"{torch.get_num_threads()} thread(s), cache {args.cache_dir}",
        flush=True,
    )
    rows: list[dict[str, Any]] = []
    for label, spec in specs:
        for n_epochs in epochs:
            case = case_of(spec, n_epochs)
            t = time.perf_counter()
            defence, _ = eng.defence(case.suite, case)
            _, dpred, _ = eng.outputs(clf.module, defence, x)
            row: dict[str, Any] = {
                "defence": label,
                "params": {k: repr(v) for k, v in spec.params.items()},
                "epochs": n_epochs,
                "defended_clean_accuracy": float((dpred == y).float().mean()),
            }
            if attack_id is not None:
                result = evaluate_case(eng, case)
                row["case"] = case.id
                row[args.metric] = result.metrics.get(args.metric)
            row["seconds"] = round(time.perf_counter() - t, 1)
            rows.append(row)
            extra = f", {args.metric} {row[args.metric]}" if attack_id is not None else ""
            print(
                f"{label}, {n_epochs} epochs: defended clean accuracy "
                f"{row['defended_clean_accuracy']:.4f}{extra} ({row['seconds']:.0f} s)",
                flush=True,
            )
    saved = {
        "suite": suite.name,
        "scale": args.scale,
        "n_test": int(x.shape[0]),
        "classifier_clean_accuracy": clean,
        "case": args.case,
        "metric": args.metric if attack_id else None,
        "torch": torch.__version__,
        "rows": rows,
    }
    if args.json:
        Path(args.json).write_text(json.dumps(saved, indent=1))
    report(saved, args.png, args.title)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
