"""Cold vs warm wall time of the default suite, and what the grey-box sharing saves.

Usage:
    python benchmarks/default_suite.py [--scale default] [--device cpu]

Prints a table: cold run (empty cache: training included), warm run (models and adversarial sets
cached on disk), and the ratio; the targets of the default suite on a 2-core CPU (issue 15) are cold
<= 300 s and warm <= 15 s (<= 2 % of cold).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tabulate import tabulate

ROOT = Path(__file__).resolve().parents[1]


def run(cache: str, scale: str, device: str, results: str) -> tuple[float, int]:
    t = time.perf_counter()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "suites/default.py",
            "--robustcheck",
            "-q",
            "-p",
            "no:cacheprovider",
            f"--robustcheck-scale={scale}",
            f"--robustcheck-device={device}",
            f"--robustcheck-cache-dir={cache}",
            f"--robustcheck-results-dir={results}",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    return time.perf_counter() - t, proc.returncode


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", default="default", choices=["smoke", "default", "paper"])
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cache, results = str(Path(tmp) / "cache"), str(Path(tmp) / "results")
        cold, rc1 = run(cache, args.scale, args.device, results)
        warm, rc2 = run(cache, args.scale, args.device, results)
    target_cold, target_warm = (300.0, 15.0)
    print(
        tabulate(
            [
                ["cold (training + attacks)", f"{cold:.1f}", target_cold, f"{cold / target_cold:.2f}", rc1],
                ["warm (all cached)", f"{warm:.1f}", target_warm, f"{warm / target_warm:.2f}", rc2],
                ["cold / warm", f"{cold / warm:.1f}x", "", "", ""],
            ],
            headers=["run", "seconds", "target s", "ratio to target", "pytest exit"],
        )
    )


if __name__ == "__main__":
    main()
