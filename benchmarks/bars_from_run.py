"""Print ``Thresholds(...)`` lines for a suite from a measured run record, with stated margins.

Bars are set from measured numbers, never the other way round: this script reads a JSON run record
(``.robustcheck/results/NNNN_*.json``) and prints, per case, a corrected-accuracy floor (measured −
``--margin``, rounded down to 0.01; none when the measurement is below ``--floor``, since a bar near 0
could not fail), per defence a detection-AUC floor (lowest AUC over the chosen attacks − ``--auc-margin``)
and a defended-clean-accuracy floor, and, for detector-aware cases, an adaptive-success ceiling. Paste
the output into the suite and keep the measured value in the comment.

    python benchmarks/bars_from_run.py mnist-kl-family .robustcheck/results/0006_*.json [more records] --margin 0.06

``--write suites/kl_family.py`` replaces the previously generated lines of that suite file in place (every
``Thresholds(scale=D, defence=...)`` line with one of the metrics this script writes and a measured value
in its comment), keeping the hand-written bars, and prints what changed.
"""

from __future__ import annotations

import argparse
import json
import math
import re
from collections import defaultdict


def floor2(v: float) -> float:
    return math.floor(v * 100 + 1e-9) / 100


def ceil2(v: float) -> float:
    return math.ceil(v * 100 - 1e-9) / 100


def merged(paths: list[str], suite: str) -> dict[str, dict]:
    """Per case, the worst measurement over the records: lowest for higher-is-better metrics, highest
    for adaptive_success_rate (the one ceiling this script writes)."""
    out: dict[str, dict] = {}
    for path in paths:
        with open(path, encoding="utf-8") as f:
            for cid, rec in json.load(f)["suites"][suite].items():
                m = {k: v for k, v in rec["metrics"].items() if v is not None and not math.isnan(v)}
                if cid not in out:
                    out[cid] = {"metrics": m}
                    continue
                old = out[cid]["metrics"]
                for k, v in m.items():
                    worse = max if k == "adaptive_success_rate" else min
                    old[k] = worse(old[k], v) if k in old else v
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("suite")
    ap.add_argument(
        "records",
        nargs="+",
        help="one or more run records; with several, floors use the lowest "
        "and ceilings the highest measurement (e.g. models trained with 1 and with 2 threads)",
    )
    ap.add_argument("--margin", type=float, default=0.05, help="corrected accuracy: measured − margin")
    ap.add_argument("--floor", type=float, default=0.10, help="no corrected-accuracy bar below this")
    ap.add_argument("--auc-margin", type=float, default=0.03)
    ap.add_argument(
        "--auc-attacks",
        default="",
        help="comma list: attacks whose AUCs set the per-defence bar "
        "(default: all); detector-aware attacks are meant to lower AUC and get per-case bars",
    )
    ap.add_argument("--clean-margin", type=float, default=0.04)
    ap.add_argument(
        "--adaptive-attacks",
        default="",
        help="comma list: detector-aware attacks whose white-box "
        "cases get an adaptive_success_rate ceiling (measured + --margin)",
    )
    ap.add_argument("--scale", default="default")
    ap.add_argument(
        "--write", default=None, help="suite file whose generated bar lines are replaced in place"
    )
    args = ap.parse_args()
    cases = merged(args.records, args.suite)
    auc_attacks = {a for a in args.auc_attacks.split(",") if a}
    adaptive = {a for a in args.adaptive_attacks.split(",") if a}
    aucs: dict[str, list[tuple[float, str]]] = defaultdict(list)
    clean: dict[str, float] = {}
    lines = []
    for cid, rec in sorted(cases.items()):
        m = rec["metrics"]
        parts = cid.split("|")
        defence, attack, eps, threat = parts[0], parts[1], parts[2].split("=", 1)[1], parts[3]
        family = attack.startswith("family=")
        if family:
            attack = attack.split("=", 1)[1]
        clean.setdefault(defence, m.get("defended_clean_accuracy") or math.nan)
        auc = m.get("detection_auc")
        if auc is not None and not math.isnan(auc) and (not auc_attacks or attack in auc_attacks):
            aucs[defence].append((auc, attack))
        sel = f'scale=D, defence="{defence}", attack="{attack}", eps={eps}, threat="{threat}"'
        metric = "worst_case_corrected_accuracy" if family else "corrected_accuracy"
        v = m.get(metric)
        if v is not None and not math.isnan(v) and v >= args.floor:
            lines.append(f"        Thresholds({sel}, {metric}={floor2(v - args.margin):.2f}),  # {v:.3f}")
        if (
            auc_attacks
            and attack not in auc_attacks
            and auc is not None
            and not math.isnan(auc)
            and not family
        ):
            lines.append(
                f"        Thresholds({sel}, detection_auc={floor2(auc - args.auc_margin):.2f}),  # {auc:.3f}"
            )
        asr = m.get("adaptive_success_rate")
        if attack in adaptive and threat == "white-box" and defence != "none" and asr is not None:
            lines.append(
                f"        Thresholds({sel}, adaptive_success_rate={ceil2(asr + args.margin):.2f}),  # {asr:.3f}"
            )
    for d, vals in sorted(aucs.items()):
        if auc_attacks:
            for a in sorted(auc_attacks):
                v = min(auc for auc, att in vals if att == a)
                lines.append(
                    f'        Thresholds(scale=D, defence="{d}", attack="{a}", detection_auc='
                    f"{floor2(v - args.auc_margin):.2f}),  # min {v:.3f}"
                )
        else:
            v = min(auc for auc, _ in vals)
            lines.append(
                f'        Thresholds(scale=D, defence="{d}", detection_auc={floor2(v - args.auc_margin):.2f}),'
                f"  # min {v:.3f}"
            )
    for d, v in sorted(clean.items()):
        lines.append(
            f'        Thresholds(scale=D, defence="{d}", defended_clean_accuracy='
            f"{floor2(v - args.clean_margin):.2f}),  # {v:.3f}"
        )
    if args.write:
        write(args.write, lines)
    else:
        print("\n".join(lines))


GENERATED = re.compile(
    r'^\s+Thresholds\(scale=D, defence="[^"]+".*, (corrected_accuracy|worst_case_corrected_accuracy|'
    r"detection_auc|adaptive_success_rate|defended_clean_accuracy)=[0-9.]+\),\s+# .*$"
)


def write(path: str, lines: list[str]) -> None:
    """Replace the generated bar lines of a suite file by ``lines`` (at the place of the first one)."""
    with open(path, encoding="utf-8") as f:
        old = f.read().splitlines()
    keep, at = [], None
    for line in old:
        if GENERATED.match(line):
            if at is None:
                at = len(keep)
            continue
        keep.append(line)
    if at is None:
        raise SystemExit(f"{path}: no generated bar lines found to replace")
    new = keep[:at] + lines + keep[at:]
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(new) + "\n")
    removed = {ln.strip() for ln in old} - {ln.strip() for ln in new}
    print(f"{path}: {len(removed)} bar lines replaced, {len(lines)} written")


if __name__ == "__main__":
    main()
