"""robustcheck's ``autoattack`` next to the reference AutoAttack (``pyautoattack``), same model, same digits.

Usage:
    python benchmarks/autoattack.py [--n 500] [--eps 0.1 ...] [--threads 1] [--cache-dir .robustcheck/cache]
                                    [--with-torchattacks] [--stages]

The model is the default suite's classifier (``mnist-cnn`` on embedded MNIST, scale ``default``), loaded
from the content-keyed cache when present and trained through :class:`robustcheck.engine.Engine`
otherwise (as in ``benchmarks/attacks.py``). Both run the standard version (APGD-CE, APGD-T, FAB-T, Square;
100 iterations, 9 target classes, 5000 queries) with seed 0 on the first ``--n`` test digits, one batch.
Robust accuracy = fraction of the n digits still classified correctly after the attack. Target (issue 12,
item 10): |ours − reference| ≤ 0.5 points at every ε. ``--with-torchattacks`` adds torchattacks'
``AutoAttack`` wrapper (10 iterations per gradient attack), the one robustcheck used before.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import os
import re
import sys
import time
import warnings
from pathlib import Path

import torch
from tabulate import tabulate

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.default_model import load_model_and_data, sync
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
        "--with-torchattacks",
        action="store_true",
        help="also run torchattacks.AutoAttack (the wrapper with 10-iteration APGD/APGD-T/FAB)",
    )
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore")
    from pyautoattack import AutoAttack as Reference

    model, x, y = load_model_and_data(args.cache_dir, args.n, args.device)
    model.eval()
    clean = (batched_predict(model, x) == y).float().mean().item()
    rows: list[dict] = []
    stage_rows: list[dict] = []
    for eps in args.eps:
        attack = build_attack("autoattack", {}, seed=0, batch_size=max(args.n, 1))
        sync()
        t = time.perf_counter()
        [res] = attack(model, x, y, [eps])
        sync()
        t_ours = time.perf_counter() - t
        ours = (batched_predict(model, res.x_adv) == y).float().mean().item()

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
            x_ref, _ = ref.run_standard_evaluation(x, y, batch_size=max(args.n, 1))
        sync()
        t_ref = time.perf_counter() - t
        ref_logger.removeHandler(handler)
        theirs = (batched_predict(model, x_ref) == y).float().mean().item()
        row = {
            "eps": eps,
            "robust acc ours": ours,
            "robust acc reference": theirs,
            "diff (points)": 100 * (ours - theirs),
            "seconds ours": t_ours,
            "seconds reference": t_ref,
            "time ours / reference": t_ours / t_ref,
            "ours robust after clean/apgd-ce/apgd-t/fab-t/square": "/".join(
                str(c) for _, c in attack.last_breakdown
            ),
        }
        if args.stages:
            cumulative = [float(v) for v in re.findall(r"\(total time ([0-9.]+) s\)", log.getvalue())]
            ref_stage = [b - a for a, b in zip([0.0, *cumulative], cumulative, strict=False)]
            for (stage, sec), ref_sec in zip(attack.last_seconds, ref_stage, strict=False):
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
        f"{args.threads} thread(s), device {device_name(args.device)}; "
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
