"""``robustcheck.models.pooling.MaxPool2d`` next to ``nn.MaxPool2d``. It times the forward pass and the
forward + backward (input gradient) over the shapes the A.1 classifier pools on at the engine's CPU batch
(64), and at a batch above the fast path's cap.

Usage: ``python benchmarks/pooling.py [--threads 2] [--repeats 100]``. It prints milliseconds per call,
the ratio, and whether the outputs and gradients are bit-identical.

Measured on the project's 2-core CPU (torch 2.14.1, 2 threads, 2026-11-27):
- (64, 64, 28, 28): forward 6.0 → 1.9 ms, forward + backward 8.0 → 4.1 ms.
- (64, 32, 14, 14): forward 0.87 → 0.17 ms, forward + backward 0.95 → 0.37 ms.
- (128, 64, 28, 28), the training batch: forward + backward 15.2 → 7.4 ms.
- (500, 64, 28, 28): 59 → 66 ms forward with the channels-last copy. Above the cap, the module therefore
  runs the plain op.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
from tabulate import tabulate
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from robustcheck.models.pooling import FAST_MAX_ELEMENTS, MaxPool2d


def per_call(fn: Callable[[], object], repeats: int) -> float:
    for _ in range(3):
        fn()
    t = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - t) / repeats * 1e3


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=100)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    g = torch.Generator().manual_seed(0)
    rows = []
    for shape in [(64, 64, 28, 28), (64, 32, 14, 14), (128, 64, 28, 28), (500, 64, 28, 28)]:
        x = torch.relu(torch.randn(shape, generator=g))
        reps = max(5, args.repeats * 64 // shape[0])
        row: list[object] = [str(shape), x.numel() <= FAST_MAX_ELEMENTS]
        results = []
        for pool in (nn.MaxPool2d(2), MaxPool2d(2)):
            xg = x.clone().requires_grad_(True)
            out = pool(xg)
            (grad,) = torch.autograd.grad(out.sum(), xg)
            results.append((out.detach(), grad))

            def fwd(pool: nn.Module = pool, x: torch.Tensor = x) -> None:
                pool(x)

            def fb(pool: nn.Module = pool, x: torch.Tensor = x) -> None:
                xg = x.clone().requires_grad_(True)
                torch.autograd.grad(pool(xg).sum(), xg)

            row += [per_call(fwd, reps), per_call(fb, max(5, reps // 2))]
        fwd_nn, fb_nn, fwd_ours, fb_ours = row[2:6]
        row += [
            f"{fwd_nn / fwd_ours:.2f}x",  # type: ignore[operator]
            f"{fb_nn / fb_ours:.2f}x",  # type: ignore[operator]
            torch.equal(results[0][0], results[1][0]) and torch.equal(results[0][1], results[1][1]),
        ]
        rows.append(row)
    print(f"torch {torch.__version__}, {args.threads} thread(s); milliseconds per call")
    print(
        tabulate(
            rows,
            headers=[
                "shape",
                "fast path",
                "nn fwd",
                "nn fwd+bwd",
                "ours fwd",
                "ours fwd+bwd",
                "fwd speed-up",
                "fwd+bwd speed-up",
                "bit-identical",
            ],
            floatfmt=".3f",
        )
    )


if __name__ == "__main__":
    main()
