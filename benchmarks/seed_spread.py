"""Spread of a suite's metrics over repeated runs with different seeds (``--robustcheck-seed``).

Usage:
    python benchmarks/seed_spread.py SUITE RECORD [RECORD ...] [--metrics corrected_accuracy,detection_auc]
        [--markdown]

Each record is a JSON run record (``.robustcheck/results/NNNN_*.json``). Records of the same seed are
merged (a run of a few cases with ``-k`` completes another run of that seed; a case measured twice at one
seed is an error, since the two would disagree only through a code or thread-count change). Prints, per
case and metric, the value at each seed, the mean, the sample standard deviation and the spread
(max − min). A seed changes the data split, every initialisation and every attack's randomness, so the
spread is what one run's number can move by, not only the attack's noise.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
from collections import defaultdict

from tabulate import tabulate


def by_seed(suite: str, paths: list[str]) -> dict[int, dict[str, dict[str, float]]]:
    """{seed: {case id: metrics}} over the records (several records of one seed are merged)."""
    out: dict[int, dict[str, dict[str, float]]] = defaultdict(dict)
    for path in paths:
        with open(path, encoding="utf-8") as f:
            record = json.load(f)
        if suite not in record.get("suites", {}):
            raise SystemExit(f"{path}: no suite {suite!r}; it has {sorted(record.get('suites', {}))}")
        seed = (record.get("seeds") or {}).get(suite)
        if not isinstance(seed, int):
            raise SystemExit(f"{path}: no seed of suite {suite!r} in the record")
        for cid, rec in record["suites"][suite].items():
            if cid in out[seed]:
                raise SystemExit(f"{path}: case {cid} at seed {seed} is in more than one record")
            out[seed][cid] = rec["metrics"]
    return dict(out)


def rows(seeds: dict[int, dict[str, dict[str, float]]], metrics: list[str]) -> list[list]:
    order = sorted(seeds)
    cases = sorted({cid for per in seeds.values() for cid in per})
    table = []
    for cid in cases:
        for metric in metrics:
            values = [seeds[s].get(cid, {}).get(metric) for s in order]
            present = [v for v in values if isinstance(v, (int, float)) and not math.isnan(v)]
            if not present:
                continue
            sd = f"{statistics.stdev(present):.3f}" if len(present) > 1 else "–"
            table.append(
                [
                    cid,
                    metric,
                    *("–" if v is None else f"{v:.3f}" for v in values),
                    f"{statistics.fmean(present):.3f}",
                    sd,
                    f"{max(present) - min(present):.3f}",
                ]
            )
    return table


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("suite")
    ap.add_argument("records", nargs="+")
    ap.add_argument("--metrics", default="corrected_accuracy,defended_clean_accuracy,detection_auc")
    ap.add_argument("--markdown", action="store_true", help="a GitHub table instead of plain text")
    args = ap.parse_args(sys.argv[1:] if argv is None else argv)
    seeds = by_seed(args.suite, args.records)
    metrics = [m for m in args.metrics.split(",") if m]
    headers = ["case", "metric", *(f"seed {s}" for s in sorted(seeds)), "mean", "sd", "max − min"]
    print(
        tabulate(
            rows(seeds, metrics),
            headers=headers,
            tablefmt="github" if args.markdown else "simple",
            disable_numparse=True,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
