"""What the engine costs around its attacks (issue 15, item 1): one case, and a 3 × 3 grey-box suite.

Usage:
    python benchmarks/engine_overhead.py [--repeats 3] [--threads 2] [--n 500]
                                         [--cache-dir .robustcheck/cache] [--breakdown]

1. **One case** (defence ``none``, PGD-40, L∞ ε 0.1, grey-box, the first ``--n`` embedded-MNIST test digits):
   the *bare loop* (``robustcheck``'s PGD on the classifier, then its accuracy) against the engine's whole
   evaluation of that case (``robustcheck.evaluate.evaluate``: attack, metrics, per-sample arrays and every
   integrity indicator), and the engine with ``Suite(indicators=False)``. Target: indicators on ≤ 1.05×.
2. **Sharing** (defences none / ae-kl / ae-mse × attacks FGSM ε 0.1, PGD-40 L∞ ε 0.1, PGD-40 L2 ε 1.5,
   grey-box): the engine's nine cases against a *naive loop* that re-attacks the classifier once per defence
   and computes each defence's accuracy on the result. Target: ≤ 0.36× with indicators on.

Models come from the content-keyed disk cache (trained through the engine on a cold cache, not timed);
every timed evaluation runs with the disk cache disabled and the run's results forgotten
(``Engine.forget_results``), so each repeat recomputes every attack and probe. Repeats are interleaved
(bare, on, off, bare, on, off, ...) and medians are reported. ``--breakdown`` times the indicator probes one
by one on the single case (one run each).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from tabulate import tabulate

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from robustcheck import Attack, Suite
from robustcheck.attacks import build_attack
from robustcheck.attacks.base import batched_predict
from robustcheck.cache import DiskCache
from robustcheck.engine import Engine
from robustcheck.evaluate import evaluate

DEFENCES = ["none", "ae-kl", "ae-mse"]
ATTACKS = [
    Attack("fgsm", eps=0.1),
    Attack("pgd-linf", eps=0.1, steps=40),
    Attack("pgd-l2", eps=1.5, steps=40),
]


def suite(name: str, defences: list[str], attacks: list[Attack], n: int, indicators: bool) -> Suite:
    return Suite(
        name=name,
        dataset="mnist-embedded",
        classifier="mnist-cnn",
        defences=defences,
        attacks=attacks,
        threat_models=["grey-box"],
        seed=0,
        fpr=0.05,
        n_samples=n,
        indicators=indicators,
    )


def warm_engine(cache_dir: str, suites: list[Suite]) -> Engine:
    """An engine with every model of ``suites`` loaded (trained on a cold cache), then its disk cache off."""
    engine = Engine(device="cpu", scale="default", cache_dir=cache_dir)
    for s in suites:
        for case in s.cases():
            engine.defence(s, case)
    engine.cache = DiskCache(None)
    return engine


def timed(fn: Callable[[], Any]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def bare_loop(engine: Engine, s: Suite, attacks: list[Attack], defences: int = 1) -> Callable[[], None]:
    """The naive loop: for each defence, re-attack the classifier with each attack, then the defence's
    accuracy on the adversarial examples (grey-box: crafted on C, scored on the defended pipeline)."""
    clf = engine.classifier(s).module
    x, y, _ = engine.case_inputs(s.cases()[0])
    defs = [engine.defence(s, c)[0] for c in s.cases()][:: len(attacks)][:defences]

    def run() -> None:
        for d in defs:
            for a in attacks:
                params = dict(a.params)
                attack = build_attack(a.name, params, seed=0, batch_size=engine.batch_size(s))
                [r] = attack(clf, x, y, [a.eps[0]])
                if d.name == "none":
                    with torch.no_grad():
                        (batched_predict(clf, r.x_adv) == y).double().mean().item()
                else:  # C(x'), the defended prediction and the detector score, as the engine computes them
                    _, d_adv, _ = engine.outputs(clf, d, r.x_adv)
                    (d_adv == y).double().mean().item()

    return run


def engine_run(engine: Engine, s: Suite) -> Callable[[], None]:
    def run() -> None:
        engine.forget_results()
        for case in s.cases():
            evaluate(engine, case)

    return run


def interleaved(fns: dict[str, Callable[[], None]], repeats: int) -> dict[str, float]:
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for k, fn in fns.items():
            times[k].append(timed(fn))
    return {k: statistics.median(v) for k, v in times.items()}


def breakdown(engine: Engine, s: Suite) -> list[dict[str, Any]]:
    """Each indicator probe of the single case timed alone (the rest memoised first)."""
    from robustcheck import indicators as I
    from robustcheck import probes

    case = s.cases()[0]
    engine.forget_results()
    rows = [
        {
            "part": "base case (attack + metrics + per-sample arrays)",
            "seconds": timed(lambda: engine.base_case(case)),
        }
    ]
    model, _ = engine.attack_target(case)
    x, y, _ = engine.case_inputs(case)
    xp, yp = x[: probes.PROBE_N], y[: probes.PROBE_N]
    seed = engine.seed(s)

    def square() -> None:  # stage 1 of the probe (the other rows run only where Square is ahead there)
        sq = build_attack("square", {"steps": probes.SQUARE_QUERIES}, seed=seed, batch_size=probes.PROBE_N)
        k = probes.SQUARE_STAGE_N
        sq(model, xp[:k], yp[:k], [case.eps])

    def unbounded() -> None:
        pgd = build_attack(
            "pgd-linf",
            {"steps": probes.UNBOUNDED_STEPS, "random_start": False, "early_stop": True},
            seed=seed,
            batch_size=probes.PROBE_N,
        )
        pgd(model, xp, yp, [1.0])

    def fgsm() -> None:
        build_attack("fgsm", {}, seed=seed, batch_size=engine.batch_size(s))(model, x, y, [case.eps])

    rows += [
        {
            "part": f"square probe, stage 1 ({probes.SQUARE_QUERIES} queries × {probes.SQUARE_STAGE_N})",
            "seconds": timed(square),
        },
        {
            "part": f"unbounded PGD probe (≤ {probes.UNBOUNDED_STEPS} steps × {probes.PROBE_N}, early stop)",
            "seconds": timed(unbounded),
        },
        {"part": "FGSM sibling (iterative_weaker)", "seconds": timed(fgsm)},
        {"part": "gradient health", "seconds": timed(lambda: I.gradient_health(model, xp, yp))},
        {
            "part": "noise probe",
            "seconds": timed(lambda: probes._noise_accuracy(model, xp, yp, case.eps, "linf", seed)),
        },
    ]
    engine.forget_results()
    rows.append({"part": "all indicators (probes.indicators, base memoised)", "seconds": 0.0})
    engine.base_case(case)
    rows[-1]["seconds"] = timed(lambda: probes.indicators(engine, case))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--n", type=int, default=500)
    ap.add_argument("--cache-dir", default=str(ROOT / ".robustcheck" / "cache"))
    ap.add_argument("--breakdown", action="store_true")
    ap.add_argument("--skip-sharing", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore")

    one = [Attack("pgd-linf", eps=0.1, steps=40)]
    s_on = suite("overhead-on", ["none"], one, args.n, True)
    s_off = suite("overhead-off", ["none"], one, args.n, False)
    g_on = suite("sharing-on", DEFENCES, ATTACKS, args.n, True)
    g_off = suite("sharing-off", DEFENCES, ATTACKS, args.n, False)
    engine = warm_engine(args.cache_dir, [s_on, g_on])

    def row(label: str, bare: Callable[[], None], on: Suite, off: Suite, target: str) -> dict[str, Any]:
        med = interleaved(
            {"bare": bare, "on": engine_run(engine, on), "off": engine_run(engine, off)}, args.repeats
        )
        return {
            "measure": label,
            "bare loop s": med["bare"],
            "engine, indicators on s": med["on"],
            "engine, indicators off s": med["off"],
            "on / bare": med["on"] / med["bare"],
            "off / bare": med["off"] / med["bare"],
            "target": target,
        }

    rows = [
        row(
            "one case: none, PGD-40, ε 0.1, grey-box",
            bare_loop(engine, s_on, one),
            s_on,
            s_off,
            "on/bare ≤ 1.05",
        )
    ]
    if not args.skip_sharing:
        naive = bare_loop(engine, g_on, ATTACKS, defences=len(DEFENCES))
        rows.append(
            row("3 defences × 3 attacks, grey-box (bare = naive loop)", naive, g_on, g_off, "on/bare ≤ 0.36")
        )
    load = os.getloadavg()
    print(
        f"n = {args.n} digits, {args.repeats} interleaved repeats (medians), torch {torch.__version__}, "
        f"{args.threads} thread(s); load average at the end {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}"
    )
    print(tabulate(rows, headers="keys", floatfmt=".3g", tablefmt="github"))
    if args.breakdown:
        print(tabulate(breakdown(engine, s_on), headers="keys", floatfmt=".3g", tablefmt="github"))


if __name__ == "__main__":
    main()
