"""PNG plots of a run: ROC curves per detector and accuracy-vs-ε per defence and attack; and a metric's
trend over saved runs (:func:`write_trend`, ``robustcheck trend --png``).

matplotlib is an optional extra (``pip install 'pytest-robustcheck[plots]'``); it is imported only
here, only when plots are asked for, and drawn without pyplot (no global state, no display needed).
ROC curves follow EVALUATION.md ("report the full ROC, not only AUC"): clean test inputs are the
negatives, successful adversarial examples the positives, S(x) the score (higher = adversarial).
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from robustcheck.errors import ConfigError
from robustcheck.history import Trend, atomic_write


def roc_curve(negatives: np.ndarray, positives: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(FPR, TPR) at every distinct threshold, from (0, 0) to (1, 1); a point is flagged when S ≥ t."""
    neg, pos = np.asarray(negatives, dtype=np.float64), np.asarray(positives, dtype=np.float64)
    thresholds = np.unique(np.concatenate([neg, pos]))[::-1]
    fpr = [(neg >= t).mean() if neg.size else 0.0 for t in thresholds]
    tpr = [(pos >= t).mean() if pos.size else 0.0 for t in thresholds]
    return np.array([0.0, *fpr, 1.0]), np.array([0.0, *tpr, 1.0])


def _figure() -> Any:
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise ConfigError("plots need matplotlib: pip install 'pytest-robustcheck[plots]'") from None
    fig = Figure(figsize=(6, 4.5), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Any, path: Path) -> Path:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    atomic_write(path, buf.getvalue())
    return path


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.+-]+", "_", text)


def _parse_case(case: str) -> tuple[str, str, float, str]:
    defence, attack, eps, threat = case.split("|")
    return defence, attack, float(eps.removeprefix("eps=")), threat


def write_plots(run: Mapping[str, Any], scores: Mapping[str, np.ndarray], out_dir: str | Path) -> list[Path]:
    """Draw every plot a run supports into ``out_dir``; returns the files written."""
    out = Path(out_dir)
    written: list[Path] = []
    for suite, cases in run.get("suites", {}).items():
        parsed = {}
        for case in cases:
            try:
                parsed[case] = _parse_case(case)
            except ValueError:
                continue
        # ROC per detector
        by_defence: dict[str, list[str]] = {}
        for case, (defence, _, _, _) in parsed.items():
            if f"{suite}/{case}/clean" in scores:
                by_defence.setdefault(defence, []).append(case)
        for defence, dcases in sorted(by_defence.items()):
            fig = _figure()
            ax = fig.add_subplot()
            for case in dcases:
                s_clean = scores[f"{suite}/{case}/clean"]
                s_adv = scores[f"{suite}/{case}/adv"]
                succ = scores[f"{suite}/{case}/successful"].astype(bool)
                if succ.sum() == 0:
                    continue
                fpr, tpr = roc_curve(s_clean, s_adv[succ])
                auc = cases[case].get("metrics", {}).get("detection_auc")
                label = case.split("|", 1)[1] + (f" (AUC {auc:.3f})" if auc is not None else "")
                ax.plot(fpr, tpr, label=label)
            ax.plot([0, 1], [0, 1], ls=":", color="grey")
            ax.set(
                xlabel="false-positive rate (clean)",
                ylabel="true-positive rate (successful x')",
                title=f"{suite}: ROC of {defence}",
                xlim=(0, 1),
                ylim=(0, 1.01),
            )
            ax.legend(fontsize=7, loc="lower right")
            written.append(_save(fig, out / f"roc_{_slug(suite)}_{_slug(defence)}.png"))
        # accuracy vs ε per attack, one line per (defence, threat model)
        by_attack: dict[str, dict[tuple[str, str], list[tuple[float, float]]]] = {}
        for case, (defence, attack, eps, threat) in parsed.items():
            acc = cases[case].get("metrics", {}).get("corrected_accuracy")
            if acc is not None:
                by_attack.setdefault(attack, {}).setdefault((defence, threat), []).append((eps, acc))
        for attack, lines in sorted(by_attack.items()):
            fig = _figure()
            ax = fig.add_subplot()
            for (defence, threat), pts in sorted(lines.items()):
                pts.sort()
                ax.plot(
                    [p[0] for p in pts],
                    [p[1] for p in pts],
                    marker="o",
                    ls="-" if threat == "grey-box" else "--",
                    label=f"{defence} ({threat})",
                )
            ax.set(
                xlabel="ε",
                ylabel="corrected accuracy",
                title=f"{suite}: accuracy vs ε under {attack}",
                ylim=(-0.02, 1.02),
            )
            ax.legend(fontsize=7)
            written.append(_save(fig, out / f"accuracy_{_slug(suite)}_{_slug(attack)}.png"))
    return written


def write_trend(trend: Trend, path: str | Path) -> Path:
    """Draw ``trend`` (:func:`robustcheck.history.metric_trend`) as one PNG: one line per case over the runs
    (a gap where a run lacks the case or the value), a red ring on every point that worsened beyond the
    tolerance since the case's previous value."""
    fig = _figure()
    n_cases = len(trend.cases)
    fig.set_size_inches(max(6.0, 1.0 + 0.9 * len(trend.runs)), 4.5 + 0.18 * max(0, n_cases - 8))
    ax = fig.add_subplot()
    xs = list(range(len(trend.runs)))
    several_suites = len({suite for suite, _ in trend.cases}) > 1
    marked = False
    for (suite, case), points in trend.cases.items():
        ys = [np.nan if p is None or p.value is None else p.value for p in points]
        ax.plot(xs, ys, marker="o", ms=4, label=f"{suite}[{case}]" if several_suites else case)
        bad = [(x, y) for x, y, p in zip(xs, ys, points, strict=True) if p is not None and p.worsened]
        finite = [(x, y) for x, y in bad if not np.isnan(y)]
        if finite:
            ax.scatter(
                [x for x, _ in finite],
                [y for _, y in finite],
                s=110,
                facecolors="none",
                edgecolors="red",
                linewidths=1.8,
                zorder=3,
            )
            marked = True
        lost = [x for x, y in bad if np.isnan(y)]  # a number that became NaN: a red cross on the x axis
        if lost:
            ax.scatter(lost, [0.02] * len(lost), marker="x", color="red", transform=ax.get_xaxis_transform())
    if marked:  # one legend entry, after the cases
        ax.scatter([], [], s=110, facecolors="none", edgecolors="red", label="worse than the run before")
    direction = "higher" if trend.higher_is_better else "lower"
    ax.set(
        xlabel="run",
        ylabel=f"{trend.metric} ({direction} is better)",
        title=f"{trend.metric} over {len(trend.runs)} run(s), tolerance {trend.tolerance.describe()}",
    )
    ax.set_xticks(xs, [r.label.replace(" ", "\n", 1) for r in trend.runs], fontsize=7)
    ax.grid(True, alpha=0.3)
    if n_cases:
        ax.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    return _save(fig, Path(path))
