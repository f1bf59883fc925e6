"""Cold vs warm wall time of the default suite, and what the grey-box sharing saves.

Usage:
    python benchmarks/default_suite.py [--scale default] [--device cpu] [--out DIR] [--malloc keep|system]

Prints a table: cold run (empty cache: training included), warm run (models and adversarial sets
cached on disk), and the ratio; the targets of the default suite on a 2-core CPU (issue 15) are cold
<= 300 s and warm <= 15 s (<= 2 % of cold). ``--out DIR`` keeps the run records (``DIR/results``) and
each run's pytest output (``DIR/cold.log``, ``DIR/warm.log``, with ``--durations=15``). ``--malloc system``
runs both with glibc's default malloc settings (``--robustcheck-malloc``, robustcheck.allocator), to
compare with the default ``keep``.
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


def run(
    cache: str, scale: str, device: str, results: str, log: Path | None = None, malloc: str = "keep"
) -> tuple[float, int]:
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
            f"--robustcheck-malloc={malloc}",
            "--durations=15",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - t
    if log is not None:
        log.write_text(proc.stdout + proc.stderr)
    return seconds, proc.returncode


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", default="default", choices=["smoke", "default", "paper"])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--out", default=None, help="keep the run records and pytest logs here")
    ap.add_argument("--malloc", default="keep", choices=["keep", "system"], help="--robustcheck-malloc")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(args.out) if args.out else None
        if out is not None:
            out.mkdir(parents=True, exist_ok=True)
        cache = str(Path(tmp) / "cache")
        results = str((out or Path(tmp)) / "results")
        cold, rc1 = run(
            cache, args.scale, args.device, results, out / "cold.log" if out else None, args.malloc
        )
        warm, rc2 = run(
            cache, args.scale, args.device, results, out / "warm.log" if out else None, args.malloc
        )
    target_cold, target_warm = (300.0, 15.0)
    print(f"--robustcheck-malloc={args.malloc}")
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
