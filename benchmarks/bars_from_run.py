"""Write a suite's measured bars (its ``.bars.json`` data file) from run records, with stated margins.

Bars are set from measured numbers, never the other way round: this script reads JSON run records
(``.robustcheck/results/NNNN_*.json``) and sets, per case, a corrected-accuracy floor (measured −
``--margin``, rounded down to 0.01; none when the measurement is below ``--floor``, since a bar near 0
could not fail), per defence a detection-AUC floor (lowest AUC over the chosen attacks − ``--auc-margin``)
and a defended-clean-accuracy floor, and, for detector-aware cases, an adaptive-success ceiling. Each bar
is recorded with the measured value it came from and the margin used; the file records the records, their
date, torch version and thread count, the margins and this command.

    python benchmarks/bars_from_run.py mnist-kl-family .robustcheck/results/0006_*.json [more records] \\
        --margin 0.06 --write suites/kl_family.py

``--write suites/kl_family.py`` (or ``--write suites/kl_family.bars.json``) writes the data file beside
the suite file, which the suite reads with ``robustcheck.bars.measured_bars(__file__)``. An existing file
is rewritten: the bars this script writes (its five metrics at ``--scale``) are replaced, any other bar in
it (set by hand) is kept, and what changed is printed, old → new per bar. Without ``--write`` the file's
text is printed. The bars a person chose (clean accuracy, gates at 0, ``allow_inconclusive``) stay in the
suite file.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import shlex
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

from robustcheck.bars import BarsFile, MeasuredBar, bars_path, format_bars_file, read_bars_file
from robustcheck.errors import ConfigError

#: the metrics this script writes; a data file's bars of other metrics are kept on --write
WRITTEN = (
    "corrected_accuracy",
    "worst_case_corrected_accuracy",
    "detection_auc",
    "adaptive_success_rate",
    "defended_clean_accuracy",
)


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
            record = json.load(f)
        if suite not in record.get("suites", {}):
            raise SystemExit(f"{path}: no suite {suite!r} in this record; it has {sorted(record['suites'])}")
        for cid, rec in record["suites"][suite].items():
            m = {k: v for k, v in rec["metrics"].items() if v is not None and not math.isnan(v)}
            if cid not in out:
                out[cid] = {"metrics": m}
                continue
            old = out[cid]["metrics"]
            for k, v in m.items():
                worse = max if k == "adaptive_success_rate" else min
                old[k] = worse(old[k], v) if k in old else v
    return out


def _one_or_list(values: set[Any]) -> Any:
    if not values:
        return None
    return next(iter(values)) if len(values) == 1 else sorted(values)


def provenance(paths: list[str], suite: str, scale: str, argv: list[str]) -> dict[str, Any]:
    """What the data file records about where its bars came from: records, date, command, torch, threads.
    A record measured at another scale than ``scale`` is an error (its numbers would gate the wrong run)."""
    dates, torch, threads = set(), set(), set()
    for path in paths:
        with open(path, encoding="utf-8") as f:
            record = json.load(f)
        if record.get("scale") not in (None, scale):
            raise SystemExit(f"{path}: measured at scale {record['scale']!r}, not --scale {scale!r}")
        stamp = record.get("finished") or record.get("started")
        if isinstance(stamp, str):
            dates.add(stamp[:10])
        version = (record.get("packages") or {}).get("torch") or (record.get("machine") or {}).get("torch")
        if version:
            torch.add(version)
        for rec in record["suites"][suite].values():
            n = (rec.get("measured") or {}).get("torch_threads")
            if isinstance(n, int):
                threads.add(n)
    return {
        "records": [Path(p).name for p in paths],
        "date": max(dates) if dates else None,
        "command": "python benchmarks/bars_from_run.py " + shlex.join(argv),
        "scale": scale,
        "torch": _one_or_list(torch),
        "threads": _one_or_list(threads),
    }


def generate(cases: dict[str, dict], args: argparse.Namespace) -> list[MeasuredBar]:
    """The bars of the measured ``cases``: per case, then per defence (AUC, defended clean accuracy)."""
    auc_attacks = {a for a in args.auc_attacks.split(",") if a}
    adaptive = {a for a in args.adaptive_attacks.split(",") if a}
    aucs: dict[str, list[tuple[float, str]]] = defaultdict(list)
    clean: dict[str, float] = {}
    bars: list[MeasuredBar] = []
    for cid, rec in sorted(cases.items()):
        m = rec["metrics"]
        parts = cid.split("|")
        defence, attack, eps, threat = parts[0], parts[1], float(parts[2].split("=", 1)[1]), parts[3]
        family = attack.startswith("family=")
        if family:
            attack = attack.split("=", 1)[1]
        clean.setdefault(defence, m.get("defended_clean_accuracy", math.nan))
        auc = m.get("detection_auc")
        if m.get("n_successful", math.inf) < args.min_auc_examples:
            auc = None  # an AUC over a handful of successful x′ is noise, not a property to gate
        if auc is not None and not math.isnan(auc) and (not auc_attacks or attack in auc_attacks):
            aucs[defence].append((auc, attack))
        sel: dict[str, Any] = {"scale": args.scale, "defence": defence, "eps": eps, "threat": threat}
        sel["family" if family else "attack"] = attack
        metric = "worst_case_corrected_accuracy" if family else "corrected_accuracy"
        v = m.get(metric)
        if v is not None and not math.isnan(v) and v >= args.floor:
            bars.append(_bar(sel, metric, floor2(v - args.margin), v, args.margin))
        if (
            auc_attacks
            and attack not in auc_attacks
            and auc is not None
            and not math.isnan(auc)
            and not family
        ):
            bars.append(_bar(sel, "detection_auc", floor2(auc - args.auc_margin), auc, args.auc_margin))
        asr = m.get("adaptive_success_rate")
        if attack in adaptive and threat == "white-box" and defence != "none" and asr is not None:
            bars.append(_bar(sel, "adaptive_success_rate", ceil2(asr + args.margin), asr, args.margin))
    for d, vals in sorted(aucs.items()):
        per_defence = {"scale": args.scale, "defence": d}
        groups = {a: [v for v, att in vals if att == a] for a in sorted(auc_attacks)} or {
            None: [v for v, _ in vals]
        }
        for a, values in groups.items():
            if not values:
                raise SystemExit(
                    f"--auc-attacks {a}: no detection AUC of defence {d!r} under {a!r} in the records"
                )
            v = min(values)
            sel = per_defence if a is None else {**per_defence, "attack": a}
            bar = _bar(sel, "detection_auc", floor2(v - args.auc_margin), v, args.auc_margin)
            note = "lowest over the defence's cases" + ("" if a is None else " of this attack")
            bars.append(dataclasses.replace(bar, note=note))
    for d, v in sorted(clean.items()):
        if not math.isnan(v):
            sel = {"scale": args.scale, "defence": d}
            bars.append(
                _bar(sel, "defended_clean_accuracy", floor2(v - args.clean_margin), v, args.clean_margin)
            )
    return bars


def _bar(sel: dict[str, Any], metric: str, bar: float, measured: float, margin: float) -> MeasuredBar:
    return MeasuredBar(metric=metric, bar=bar, measured=round(measured, 4), margin=margin, **sel)


def margins(args: argparse.Namespace) -> dict[str, float]:
    return {
        **({"min_auc_examples": args.min_auc_examples} if args.min_auc_examples else {}),
        "corrected_accuracy": args.margin,
        "worst_case_corrected_accuracy": args.margin,
        "detection_auc": args.auc_margin,
        "adaptive_success_rate": args.margin,
        "defended_clean_accuracy": args.clean_margin,
    }


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
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
        "--min-auc-examples",
        type=int,
        default=0,
        help="no detection-AUC bar from a case with fewer successful x′ (n_successful, lowest over the "
        "records) than this",
    )
    ap.add_argument(
        "--adaptive-attacks",
        default="",
        help="comma list: detector-aware attacks whose white-box "
        "cases get an adaptive_success_rate ceiling (measured + --margin)",
    )
    ap.add_argument("--scale", default="default", help="the scale the records measured; the bars' scale")
    ap.add_argument(
        "--write",
        default=None,
        help="suite file (suites/x.py) or data file (suites/x.bars.json): write the suite's "
        "measured bars to x.bars.json beside it, replacing those this script wrote before",
    )
    args = ap.parse_args(argv)
    bars = generate(merged(args.records, args.suite), args)
    source = {**provenance(args.records, args.suite, args.scale, argv), "margins": margins(args)}
    if args.write:
        write(args.write, args.suite, args.scale, source, bars)
    else:
        print(format_bars_file(BarsFile(suite=args.suite, bars=tuple(bars), source=source)), end="")


def write(path: str, suite: str, scale: str, source: dict[str, Any], bars: list[MeasuredBar]) -> None:
    """Write ``bars`` into the data file of ``path`` (a suite file or its data file). The bars of an
    existing file that this script writes (its metrics at ``scale``) are replaced, at the place of the
    first one; the others are kept. Prints every changed, added and removed bar (old → new)."""
    target = bars_path(path)
    old: list[MeasuredBar] = []
    if target.exists():
        try:
            doc = read_bars_file(target)
        except ConfigError as exc:
            raise SystemExit(f"{exc}; fix or remove it before --write") from None
        if doc.suite != suite:
            raise SystemExit(f"{target}: holds the bars of suite {doc.suite!r}, not {suite!r}")
        old = list(doc.bars)
    elif not target.parent.is_dir():
        raise SystemExit(f"{target}: no folder {target.parent}")
    owned = {i for i, b in enumerate(old) if b.metric in WRITTEN and b.scale == scale}
    kept = [b for i, b in enumerate(old) if i not in owned]
    at = min(owned, default=len(kept))  # every bar before the first replaced one is kept
    new = kept[:at] + bars + kept[at:]
    for b in new:
        try:
            b.thresholds()
        except ConfigError as exc:
            raise SystemExit(f"{target}: not written: {b.label}: {exc}") from None
    before = {b.key: b for i, b in enumerate(old) if i in owned}
    after = {b.key: b for b in bars}
    changed = added = removed = remeasured = 0
    lines = []
    for key, b in after.items():
        a = before.get(key)
        if a is None:
            added += 1
            lines.append(f"  added    {b.label}: {b.bar:g} (measured {_g(b.measured)})")
        elif a.bar != b.bar:
            changed += 1
            lines.append(
                f"  changed  {b.label}: {a.bar:g} → {b.bar:g} (measured {_g(a.measured)} → {_g(b.measured)})"
            )
        elif a.measured != b.measured or a.margin != b.margin:
            remeasured += 1
    for key, a in before.items():
        if key not in after:
            removed += 1
            lines.append(f"  removed  {a.label}: {a.bar:g} (measured {_g(a.measured)})")
    target.write_text(
        format_bars_file(BarsFile(suite=suite, bars=tuple(new), source=source)), encoding="utf-8"
    )
    if lines:
        print("\n".join(lines))
    print(
        f"{target}: {changed} changed, {added} added, {removed} removed, "
        f"{len(after) - changed - added} unchanged ({remeasured} with a new measured value or margin), "
        f"{len(kept)} kept (not written by this script)"
    )


def _g(v: float | None) -> str:
    return "?" if v is None else f"{v:.3f}"


if __name__ == "__main__":
    main()
