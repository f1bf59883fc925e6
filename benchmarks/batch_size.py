"""Attack batch size on CPU: one gradient step (forward + backward w.r.t. the input) over 500 MNIST
digits through the A.1 CNN, per batch size, as a ratio to the old default of 250.

Usage: ``python benchmarks/batch_size.py [--repeats 5] [--device cpu|cuda] [--n 500] [--sizes 500,250,...]``
(on CUDA the device is synchronised around each timed step). Measured on the project's 2-core CPU
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

    def sync() -> None:
        if x.device.type == "cuda":
            torch.cuda.synchronize(x.device)

    step()  # warm-up
    sync()
    t = time.perf_counter()
    for _ in range(repeats):
        step()
    sync()
    return (time.perf_counter() - t) / repeats


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--n", type=int, default=500, help="digits per step")
    ap.add_argument("--sizes", default="500,250,128,64,32")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    torch.manual_seed(0)
    model = mnist_cnn().eval().to(args.device)
    for p in model.parameters():
        p.requires_grad_(False)
    x, y = torch.rand(args.n, 1, 28, 28).to(args.device), torch.randint(0, 10, (args.n,)).to(args.device)
    times = {bs: step_time(model, x, y, bs, args.repeats) for bs in sizes}
    ref = 250 if 250 in times else sizes[0]
    rows = [(bs, f"{t:.4f}", f"{times[ref] / t:.2f}x") for bs, t in times.items()]
    print(f"device {args.device}, {args.n} digits per step")
    print(tabulate(rows, headers=["batch size", f"s per step ({args.n} digits)", f"speed vs {ref}"]))


if __name__ == "__main__":
    main()
