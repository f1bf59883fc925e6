"""robustcheck's ``autoattack`` next to the reference AutoAttack (``pyautoattack``), same model, same digits.

Usage:
    python benchmarks/autoattack.py [--n 500] [--eps 0.1 ...] [--threads 1] [--cache-dir .robustcheck/cache]
                                    [--with-torchattacks] [--stages] [--repeats 3] [--no-warmup]
                                    [--malloc keep|system]

The model is the default suite's classifier (``mnist-cnn`` on embedded MNIST, scale ``default``), loaded
from the content-keyed cache when present and trained through :class:`robustcheck.engine.Engine`
otherwise (as in ``benchmarks/attacks.py``). Both run the standard version (APGD-CE, APGD-T, FAB-T, Square;
100 iterations, 9 target classes, 5000 queries) with seed 0 on the first ``--n`` test digits, one batch.
Robust accuracy = fraction of the n digits still classified correctly after the attack. Target (issue 12,
item 10): |ours − reference| ≤ 0.5 points at every ε. ``--with-torchattacks`` adds torchattacks'
``AutoAttack`` wrapper (10 iterations per gradient attack), the one robustcheck used before.

Timing: one untimed run of each first (``--no-warmup`` skips it), then ``--repeats`` timed runs of each,
interleaved with the order alternating (ours, reference; reference, ours; ...), medians reported. The
first run in a process is several seconds slower on the CPU (one-off kernel set-up), so a single run
of ours followed by one of the reference, which is what this script did until 2026-11-27, charged that
cost to ours alone.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import os
import re
import statistics
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import torch
from tabulate import tabulate

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.default_model import load_model_and_data, sync
from robustcheck.allocator import malloc_setting
from robustcheck.attacks import build_attack
from robustcheck.attacks.base import batched_predict


def device_name(device: str) -> str:
    return torch.cuda.get_device_name(torch.device(device)) if device.startswith("cuda") else "cpu"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=500)
    ap.add_argument("--eps", type=float, nargs="+", default=[0.1])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--cache-dir", default=str(ROOT / ".robustcheck" / "cache"))
    ap.add_argument("--device", default="cpu", help="cpu or cuda (timings synchronise the device)")
    ap.add_argument("--stages", action="store_true", help="also print each stage's seconds, ours and theirs")
    ap.add_argument(
        "--repeats", type=int, default=3, help="timed runs of each, interleaved; medians reported"
    )
    ap.add_argument(
        "--no-warmup",
        dest="warmup",
        action="store_false",
        help="skip the untimed first run of each (the first run in a process is slower)",
    )
    ap.add_argument(
        "--malloc",
        default="keep",
        choices=["keep", "system"],
        help="glibc malloc setting for the whole process, both attacks alike (robustcheck.allocator; "
        "robustcheck's engine applies keep by default, a bare script runs the reference with system)",
    )
    ap.add_argument(
        "--with-torchattacks",
        action="store_true",
        help="also run torchattacks.AutoAttack (the wrapper with 10-iteration APGD/APGD-T/FAB)",
    )
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore")
    from pyautoattack import AutoAttack as Reference

    model, x, y = load_model_and_data(args.cache_dir, args.n, args.device, args.malloc)
    model.eval()
    clean = (batched_predict(model, x) == y).float().mean().item()
    rows: list[dict] = []
    stage_rows: list[dict] = []

    def run_ours(eps: float, xs: torch.Tensor, ys: torch.Tensor) -> tuple[float, float, Any]:
        attack = build_attack("autoattack", {}, seed=0, batch_size=max(len(xs), 1))
        sync()
        t = time.perf_counter()
        [res] = attack(model, xs, ys, [eps])
        sync()
        seconds = time.perf_counter() - t
        return seconds, (batched_predict(model, res.x_adv) == ys).float().mean().item(), attack

    def run_reference(eps: float, xs: torch.Tensor, ys: torch.Tensor) -> tuple[float, float, list[float]]:
        ref = Reference(model, norm="Linf", eps=eps, version="standard", seed=0, device=args.device)
        ref.verbose = args.stages  # its log holds the cumulative time after each stage
        log = io.StringIO()
        handler = logging.StreamHandler(log)
        ref_logger = logging.getLogger("auto-attack")
        ref_logger.addHandler(handler)
        ref_logger.setLevel(logging.DEBUG)
        sync()
        t = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            x_ref, _ = ref.run_standard_evaluation(xs, ys, batch_size=max(len(xs), 1))
        sync()
        seconds = time.perf_counter() - t
        ref_logger.removeHandler(handler)
        cumulative = [float(v) for v in re.findall(r"\(total time ([0-9.]+) s\)", log.getvalue())]
        stages = [b - a for a, b in zip([0.0, *cumulative], cumulative, strict=False)]
        return seconds, (batched_predict(model, x_ref) == ys).float().mean().item(), stages

    for eps in args.eps:
        if (
            args.warmup
        ):  # one untimed run of each first: the first run in a process pays one-off kernel set-up
            run_ours(eps, x, y)
            run_reference(eps, x, y)
        ours_runs: list[tuple[float, float, Any]] = []
        ref_runs: list[tuple[float, float, list[float]]] = []
        for r in range(args.repeats):  # interleaved, the order alternating: neither always runs warm
            if r % 2 == 0:
                ours_runs.append(run_ours(eps, x, y))
                ref_runs.append(run_reference(eps, x, y))
            else:
                ref_runs.append(run_reference(eps, x, y))
                ours_runs.append(run_ours(eps, x, y))
        t_ours = statistics.median(o[0] for o in ours_runs)
        t_ref = statistics.median(o[0] for o in ref_runs)
        ours, theirs = ours_runs[0][1], ref_runs[0][1]
        attack = ours_runs[0][2]
        row = {
            "eps": eps,
            "robust acc ours": ours,
            "robust acc reference": theirs,
            "diff (points)": 100 * (ours - theirs),
            "seconds ours": t_ours,
            "seconds reference": t_ref,
            "time ours / reference": t_ours / t_ref,
            "every run ours / reference (s)": " ".join(
                f"{a[0]:.1f}/{b[0]:.1f}" for a, b in zip(ours_runs, ref_runs, strict=True)
            ),
            "ours robust after clean/apgd-ce/apgd-t/fab-t/square": "/".join(
                str(c) for _, c in attack.last_breakdown
            ),
        }
        if len({o[1] for o in ours_runs}) > 1 or len({o[1] for o in ref_runs}) > 1:
            row["robust acc differs between repeats"] = True
        if args.stages:
            for k, (stage, _) in enumerate(attack.last_seconds):
                sec = statistics.median(o[2].last_seconds[k][1] for o in ours_runs)
                ref_secs = [o[2][k] for o in ref_runs if len(o[2]) > k]
                ref_sec = statistics.median(ref_secs) if ref_secs else float("nan")
                stage_rows.append(
                    {
                        "eps": eps,
                        "stage": stage,
                        "seconds ours": sec,
                        "seconds reference": ref_sec,
                        "ours / reference": sec / ref_sec if ref_sec else float("nan"),
                    }
                )
        if args.with_torchattacks:
            import torchattacks

            torch.manual_seed(0)
            sync()
            t = time.perf_counter()
            wrapper = torchattacks.AutoAttack(
                model, norm="Linf", eps=eps, version="standard", n_classes=10, seed=0
            )
            x_ta = wrapper(x, y)
            sync()
            row["seconds torchattacks AA"] = time.perf_counter() - t
            row["robust acc torchattacks AA"] = (batched_predict(model, x_ta) == y).float().mean().item()
        rows.append(row)

    load = os.getloadavg()
    print(
        f"n = {args.n} embedded-MNIST test digits, clean accuracy {clean:.3f}; torch {torch.__version__}, "
        f"{args.threads} thread(s), device {device_name(args.device)}, malloc {malloc_setting()}; "
        f"load average at the end {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} "
        f"(CPU shared with other processes: timings are noisy)"
    )
    print(tabulate(rows, headers="keys", floatfmt=".4g", tablefmt="github"))
    if stage_rows:
        print(
            "\nper stage (the reference's from its log: the time between its stage reports, 0.1 s resolution)"
        )
        print(tabulate(stage_rows, headers="keys", floatfmt=".4g", tablefmt="github"))


if __name__ == "__main__":
    main()
