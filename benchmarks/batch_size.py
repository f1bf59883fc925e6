"""Attack batch size on CPU: one gradient step (forward + backward w.r.t. the input) over 500 MNIST
digits through the A.1 CNN, per batch size, as a ratio to the old default of 250.

Usage: ``python benchmarks/batch_size.py [--repeats 5]``. Measured on the project's 2-core CPU
(torch 2.15, 2026-11-24): 250 → 0.247 s, 128 → 0.163 s, 64 → 0.111 s, 32 → 0.112 s per step; large
batches allocate activations of tens of MB that the allocator maps and unmaps on every call (the system
time dominates), small ones reuse its heap. The engine's CPU default is therefore 64.
"""

from __future__ import annotations

import argparse
import time

import torch
from tabulate import tabulate

from robustcheck.models.mnist import mnist_cnn


def step_time(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, bs: int, repeats: int) -> float:
    def step() -> None:
        for xb, yb in zip(x.split(bs), y.split(bs), strict=True):
            xb = xb.clone().requires_grad_(True)
            torch.autograd.grad(torch.nn.functional.cross_entropy(model(xb), yb), xb)

    step()  # warm-up
    t = time.perf_counter()
    for _ in range(repeats):
        step()
    return (time.perf_counter() - t) / repeats


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    torch.manual_seed(0)
    model = mnist_cnn().eval()
    for p in model.parameters():
        p.requires_grad_(False)
    x, y = torch.rand(500, 1, 28, 28), torch.randint(0, 10, (500,))
    times = {bs: step_time(model, x, y, bs, args.repeats) for bs in (500, 250, 128, 64, 32)}
    rows = [(bs, f"{t:.3f}", f"{times[250] / t:.2f}x") for bs, t in times.items()]
    print(tabulate(rows, headers=["batch size", "s per step (500 digits)", "speed vs 250"]))


if __name__ == "__main__":
    main()
