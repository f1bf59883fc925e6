"""What keeping freed memory (robustcheck.allocator) saves per gradient step, side by side.

Usage:
    python benchmarks/allocator.py [--batches 64,128,250] [--repeats 5] [--steps 20]

For each batch size, one forward + input-gradient pass (what an attack step costs) of the A.1 classifier
(``mnist-cnn``) and of C∘AE (ae-kl's A.1 autoencoder in front of it), in a fresh interpreter per setting
(the setting is process-wide): glibc's defaults (``system``) against ``keep``. Prints wall time per pass,
the CPU time spent in the kernel, page faults per pass, and the ratio keep / system. Medians over
``--repeats`` interleaved runs. The models are untrained (the time does not depend on the weights).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

from tabulate import tabulate

_WORKER = r"""
import json, resource, sys, time
import torch
from torch.nn import functional as F
from robustcheck.allocator import keep_freed_memory, malloc_setting
from robustcheck.defences.kl_autoencoder import mnist_autoencoder
from robustcheck.models.mnist import mnist_cnn

setting, batch, steps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
if setting == "keep":
    assert keep_freed_memory(), "not glibc: nothing to compare"
torch.manual_seed(0)
clf, ae = mnist_cnn().eval(), mnist_autoencoder().eval()
for p in [*clf.parameters(), *ae.parameters()]:
    p.requires_grad_(False)
x, y = torch.rand(batch, 1, 28, 28), torch.randint(0, 10, (batch,))
out = {"setting": malloc_setting()}
for name, model in [("classifier", clf), ("C∘AE", lambda z: clf(ae(z)))]:
    def step():
        xr = x.clone().requires_grad_(True)
        torch.autograd.grad(F.cross_entropy(model(xr), y, reduction="sum"), xr)
    for _ in range(3):  # warm-up (and glibc's heap settles)
        step()
    r0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    for _ in range(steps):
        step()
    wall, r1 = time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_SELF)
    out[name] = {
        "ms": wall / steps * 1e3,
        "sys_ms": (r1.ru_stime - r0.ru_stime) / steps * 1e3,
        "faults": (r1.ru_minflt - r0.ru_minflt) / steps,
    }
print(json.dumps(out))
"""


def measure(setting: str, batch: int, steps: int) -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", _WORKER, setting, str(batch), str(steps)], capture_output=True, text=True
    )
    if proc.returncode != 0:
        sys.exit(proc.stderr)
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    if out["setting"] != setting:
        sys.exit(f"asked for {setting!r}, the worker ran with {out['setting']!r}")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batches", default="64,128,250")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--steps", type=int, default=20)
    args = ap.parse_args()
    import torch

    rows = []
    for batch in (int(b) for b in args.batches.split(",")):
        runs: dict[str, list[dict]] = {"system": [], "keep": []}
        for _ in range(args.repeats):  # interleaved: drift in the machine's speed hits both alike
            for setting in runs:
                runs[setting].append(measure(setting, batch, args.steps))
        for model in ("classifier", "C∘AE"):

            def med(setting: str, field: str, model: str = model, runs: dict = runs) -> float:
                return statistics.median(r[model][field] for r in runs[setting])

            rows.append(
                [
                    batch,
                    model,
                    f"{med('system', 'ms'):.1f}",
                    f"{med('keep', 'ms'):.1f}",
                    f"{med('keep', 'ms') / med('system', 'ms'):.2f}",
                    f"{med('system', 'sys_ms'):.1f} / {med('keep', 'sys_ms'):.1f}",
                    f"{med('system', 'faults'):.0f} / {med('keep', 'faults'):.0f}",
                ]
            )
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; medians of {args.repeats} runs")
    print(
        tabulate(
            rows,
            headers=[
                "batch",
                "model",
                "system ms/pass",
                "keep ms/pass",
                "keep / system",
                "kernel CPU ms (system / keep)",
                "page faults (system / keep)",
            ],
        )
    )


if __name__ == "__main__":
    main()
