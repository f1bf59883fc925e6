"""Learning curve of one defence over training-set size: is the gap to a paper a matter of data scale?

Usage:
    OMP_NUM_THREADS=1 python benchmarks/learning_curve.py [--defence ae-kl] [--attack fgsm] [--eps 0.1]
        [--threat grey-box] [--metric corrected_accuracy] [--sizes 500,1000,2000,3500] [--epochs 30]
        [--equal-steps] [--n-samples 200] [--dataset mnist-embedded] [--cache-dir .robustcheck/cache]
        [--vary defence|classifier] [--attack-param KEY=VALUE ...] [--json PATH] [--png PATH] [--paper V]
    python benchmarks/learning_curve.py --from-json A.json [B.json ...] --png PATH   # draw saved curves

The classifier is trained once on the whole training split (20 epochs, the project default) and held
fixed; only the defence is retrained on the first N training digits for each size N (``Scale.train_limit``),
``--epochs`` epochs each (``--equal-steps``: epochs scaled by largest size / N, so every size gets the same
number of optimiser steps). Each size is evaluated on the same ``--n-samples`` test digits against the
same adversarial set. Prints one row per size (metric, wall time) and, clearly labelled, a *naive*
log-linear extrapolation ``metric ≈ a + b·log10(N)`` to larger N (the 60,000 digits of full MNIST): a
least-squares line through the measured points, clipped to the metric's range, with no claim of validity
beyond the measured sizes.

``--vary classifier`` trains the registered classifier itself on the first N digits instead (20 epochs,
``--classifier-epochs``); with ``--defence none --metric clean_accuracy`` it is the classifier's own
learning curve, which bounds every corrected accuracy from above.

``--json`` writes the curve (label, metric, points, the naive line's coefficients, ``--paper``'s value);
``--png`` draws it: the measured points, the naive line dashed out to the largest ``--extrapolate`` size
(labelled as not a measurement) and the paper's number dotted. ``--from-json`` draws several saved curves
on one picture without running anything.
"""

from __future__ import annotations

import argparse
import ast
import json
import math
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def log_linear_fit(sizes: list[int], values: list[float]) -> tuple[float, float] | None:
    """(a, b) of the least-squares line ``value = a + b·log10(size)``; None with fewer than 2 points."""
    pts = [
        (math.log10(n), v) for n, v in zip(sizes, values, strict=True) if v is not None and not math.isnan(v)
    ]
    if len(pts) < 2:
        return None
    mx = sum(x for x, _ in pts) / len(pts)
    my = sum(y for _, y in pts) / len(pts)
    sxx = sum((x - mx) ** 2 for x, _ in pts)
    if sxx == 0:
        return None
    b = sum((x - mx) * (y - my) for x, y in pts) / sxx
    return my - b * mx, b


def draw(curves: list[dict], png: str, title: str | None = None) -> None:
    """One picture of saved curves (what ``--json`` writes): points, naive line dashed, paper dotted."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for i, c in enumerate(curves):
        color = f"C{i}"
        xs = [n for n, v in c["points"] if v is not None]
        ys = [v for _, v in c["points"] if v is not None]
        ax.plot(xs, ys, marker="o", color=color, label=c["label"])
        if c.get("fit"):
            a, b = c["fit"]
            lo, hi = c.get("range") or (None, None)
            far = max([*xs, *c.get("extrapolate", [])])
            grid = [min(xs) * (far / min(xs)) ** (k / 40) for k in range(41)]
            line = [a + b * math.log10(n) for n in grid]
            line = [min(hi if hi is not None else v, max(lo if lo is not None else v, v)) for v in line]
            ax.plot(grid, line, linestyle="--", linewidth=1, color=color, alpha=0.6)
        if c.get("paper") is not None:
            ax.axhline(c["paper"], linestyle=":", linewidth=1, color=color)
    ax.set_xscale("log")
    ax.set_xlabel("training digits N (log scale)")
    ax.set_ylabel(curves[0]["metric"] if len({c["metric"] for c in curves}) == 1 else "metric")
    ax.grid(alpha=0.3)
    ax.plot([], [], linestyle="--", color="grey", label="naive log-linear line (not a measurement)")
    ax.plot([], [], linestyle=":", color="grey", label="paper (full data)")
    ax.legend(fontsize=7)
    ax.set_title(title or "learning curves", fontsize=10)
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    print(f"wrote {png}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--defence", default="ae-kl")
    p.add_argument("--attack", default="fgsm")
    p.add_argument("--eps", type=float, default=0.1)
    p.add_argument("--threat", default="grey-box")
    p.add_argument("--metric", default="corrected_accuracy")
    p.add_argument("--sizes", default="500,1000,2000,3500")
    p.add_argument("--epochs", type=int, default=30, help="defence epochs at the largest size")
    p.add_argument("--equal-steps", action="store_true", help="scale epochs by largest size / N")
    p.add_argument("--classifier-epochs", type=int, default=20)
    p.add_argument("--n-samples", type=int, default=200)
    p.add_argument("--dataset", default="mnist-embedded")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--vary",
        choices=("defence", "classifier"),
        default="defence",
        help="what trains on the first N digits: the defence (the classifier held fixed, trained on all), or "
        "the classifier itself (and the defence with it; use --defence none and --metric clean_accuracy "
        "for the classifier's own curve)",
    )
    p.add_argument(
        "--attack-param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an attack parameter (repeatable; the value is read as a Python literal, e.g. steps=50)",
    )
    p.add_argument("--device", default="cpu")
    p.add_argument("--cache-dir", default=str(ROOT / ".robustcheck" / "cache"))
    p.add_argument("--extrapolate", default="5000,10000,60000", help="sizes of the naive extrapolation")
    p.add_argument("--paper", type=float, default=None, help="the paper's value, drawn dotted")
    p.add_argument("--label", default=None, help="the curve's label in --json / --png")
    p.add_argument("--json", default=None, help="write the curve here")
    p.add_argument("--png", default=None, help="draw the curve(s) here")
    p.add_argument("--title", default=None)
    p.add_argument("--from-json", nargs="+", default=None, help="draw these saved curves; run nothing")
    args = p.parse_args(argv)
    if args.from_json:
        if not args.png:
            p.error("--from-json needs --png")
        draw([json.loads(Path(f).read_text()) for f in args.from_json], args.png, args.title)
        return 0

    import torch
    from tabulate import tabulate

    from robustcheck.api import build_case
    from robustcheck.engine import Engine
    from robustcheck.evaluate import evaluate as evaluate_case
    from robustcheck.metrics import METRICS
    from robustcheck.suite import Scale

    if args.metric not in METRICS:
        p.error(f"unknown metric {args.metric!r}; known: {', '.join(sorted(METRICS))}")
    attack_params = {}
    for kv in args.attack_param:
        key, sep, value = kv.partition("=")
        if not sep or not key:
            p.error(f"--attack-param takes KEY=VALUE, got {kv!r}")
        try:
            attack_params[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            attack_params[key] = value  # a bare word: a string
    sizes = sorted({int(s) for s in args.sizes.split(",") if s.strip()})
    eng = Engine(device=args.device, scale="default", cache_dir=args.cache_dir)

    def scale(train_limit: int | None, epochs: int) -> dict[str, Scale]:
        return {
            "default": Scale(
                n_samples=args.n_samples,
                train_limit=train_limit,
                classifier_epochs=args.classifier_epochs,
                defence_epochs=epochs,
            )
        }

    common = {
        "threat": args.threat,
        "dataset": args.dataset,
        "seed": args.seed,
        "n_samples": args.n_samples,
        "attack_params": attack_params,
    }
    # the classifier: the registered one trained on the whole training split, then held fixed
    base = build_case("none", args.attack, eps=args.eps, scales=scale(None, args.epochs), **common)
    t0 = time.perf_counter()
    clf = eng.classifier(base.suite).module.eval()
    n_train = len(eng.data(base.suite).train.x)
    print(
        f"classifier: mnist-cnn, {args.classifier_epochs} epochs on all {n_train} training digits "
        f"({time.perf_counter() - t0:.0f} s); torch {torch.__version__}, {torch.get_num_threads()} thread(s)",
        flush=True,
    )
    rows, measured = [], []
    for n in sizes:
        if n > n_train:
            print(f"size {n}: more than the {n_train} training digits; skipped", flush=True)
            continue
        epochs = math.ceil(args.epochs * max(sizes) / n) if args.equal_steps else args.epochs
        fixed = {"classifier": clf} if args.vary == "defence" else {}  # else: the registered one, on N
        case = build_case(args.defence, args.attack, eps=args.eps, scales=scale(n, epochs), **fixed, **common)
        t = time.perf_counter()
        result = evaluate_case(eng, case)
        wall = time.perf_counter() - t
        value = result.metrics.get(args.metric)
        extra = {
            k: result.metrics.get(k)
            for k in ("clean_accuracy", "defended_clean_accuracy", "adversarial_accuracy")
        }
        measured.append((n, value))
        trained = args.classifier_epochs if args.vary == "classifier" else epochs  # what trained on N
        rows.append([n, trained, value, *extra.values(), f"{wall:.0f}"])
        print(f"size {n}: {args.metric} = {value:.4f} ({trained} epochs, {wall:.0f} s)", flush=True)
    print()
    print(
        f"learning curve of the {args.vary} ({args.defence}), {args.attack} ε {args.eps:g}"
        f"{''.join(f', {k}={v!r}' for k, v in attack_params.items())}, {args.threat}, "
        f"{args.n_samples} test "
        f"digits, {args.dataset}, seed {args.seed}, {'equal steps' if args.equal_steps else 'equal epochs'}"
    )
    headers = ["train N", "epochs", args.metric, "clean", "def.clean", "adv", "seconds"]
    print(tabulate(rows, headers=headers, floatfmt=".4f", disable_numparse=False))
    fit = log_linear_fit([n for n, _ in measured], [v for _, v in measured])
    lo, hi = METRICS[args.metric].range
    extrapolate = [int(s) for s in args.extrapolate.split(",") if s.strip()]
    curve = {
        "label": args.label or f"{args.vary} {args.defence}, {args.attack} ε {args.eps:g}, {args.metric}",
        "metric": args.metric,
        "points": measured,
        "fit": list(fit) if fit else None,
        "range": [lo, hi],
        "extrapolate": extrapolate,
        "paper": args.paper,
        "command": "python benchmarks/learning_curve.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "n_samples": args.n_samples,
        "seed": args.seed,
    }
    if args.json:
        Path(args.json).write_text(json.dumps(curve, indent=1) + "\n")
        print(f"wrote {args.json}")
    if args.png:
        draw([curve], args.png, args.title)
    if fit is None:
        print("\nno extrapolation: fewer than two measured sizes")
        return 0
    a, b = fit
    print(
        f"\nNAIVE EXTRAPOLATION (least-squares line in log10 N through the {len(measured)} points above; "
        f"not a measurement): {args.metric} ≈ {a:.4f} + {b:.4f}·log10(N)"
    )
    for n in extrapolate:
        v = a + b * math.log10(n)
        clipped = min(hi if hi is not None else v, max(lo if lo is not None else v, v))
        note = " (clipped to the metric's range)" if clipped != v else ""
        print(f"  N = {n:>6}: {clipped:.4f}{note}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
