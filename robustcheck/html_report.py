"""The HTML report of a run: one self-contained page a person opens from a CI artefact.

``--robustcheck-report=html=report.html`` (the ``html`` report format, registered in
:mod:`robustcheck.report`) or :func:`write_html` on a saved record writes one file with: the run's facts,
the results table per suite (click a header to sort; ``#sort=KEY`` / ``#sort=-KEY`` in the address sorts on
load), the regressions against the baseline, the raised integrity flags with their explanations, the failing
cases with their failures and a gallery of their clean / adversarial / purified inputs, ROC curves and
accuracy-vs-ε curves (:mod:`robustcheck.plots`) and a trend chart per case over the saved runs.

Everything is inside the file: charts and images are ``data:`` PNGs or inline SVG, style and script are
inline, and a Content-Security-Policy forbids the page any other source (no network, no external file).
Every text from the record (case ids hold ``|``, user strings may hold ``<``) is HTML-escaped.

Where the data lives: the record itself (metrics, flags, deltas), its companion ``.npz`` beside the saved
record (detector scores for the ROC curves, per-sample arrays and gallery images: keys
``"<suite>/<case>/<name>"``) and the other saved runs in its folder (trends). The renderer finds the last
two from ``record["_record_path"]`` (the saved record's path; the companion is the same stem with
``.npz``); without it, from ``record["_results_dir"]`` (trends only). A section whose data is missing says
so. matplotlib (the ``plots`` extra) is needed for the ROC and accuracy-vs-ε charts only.
"""

from __future__ import annotations

import base64
import math
import struct
import tempfile
import zlib
from collections.abc import Mapping, Sequence
from html import escape
from pathlib import Path
from typing import Any

import numpy as np

from robustcheck import history
from robustcheck.errors import ConfigError, RobustcheckError
from robustcheck.metrics import METRICS
from robustcheck.report import (
    default_delta_metrics,
    family_columns,
    flags,
    format_deltas,
    indicator_flags,
    metric_columns,
    result_label,
)

#: Metrics drawn in each case's trend chart (those the case has), one line each.
TREND_METRICS = ("corrected_accuracy", "detection_auc")
#: At most this many saved runs (the latest, up to the rendered one) in the trend charts.
TREND_RUNS = 20
#: Line colours of the trend metrics, in :data:`TREND_METRICS` order.
_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd")

_CSP = (
    "default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
    "base-uri 'none'; form-action 'none'"
)


def esc(value: Any) -> str:
    """``value`` as HTML text or attribute value (``&``, ``<``, ``>``, ``"`` and ``'`` escaped)."""
    return escape(str(value), quote=True)


# ---------------------------------------------------------------------------- entry points
def render(record: Mapping[str, Any], delta_metrics: Sequence[str] | None = None) -> str:
    """The HTML page of ``record`` (a run record, :meth:`robustcheck.session.RobustcheckSession.run_record`).

    ``delta_metrics``: the metrics of the Δ-vs-baseline column (default: the record's tolerances, else
    :func:`robustcheck.report.default_delta_metrics`). Reads ``record["_record_path"]`` /
    ``record["_results_dir"]`` to find the companion arrays and the saved runs (see the module's doc)."""
    record_path = _opt_path(record.get("_record_path"))
    results_dir = _opt_path(record.get("_results_dir")) or (record_path.parent if record_path else None)
    notes: list[str] = []
    arrays: dict[str, Any] | None = None
    if record_path is not None:
        try:
            arrays = history.load_scores(record_path) if record_path.with_suffix(".npz").exists() else {}
        except RobustcheckError as exc:
            notes.append(str(exc))
    if not delta_metrics:
        delta_metrics = sorted(record.get("tolerances") or {}) or list(default_delta_metrics())
    return HtmlReport(record, list(delta_metrics), record_path, results_dir, arrays, notes).page()


def write_html(
    record_path: str | Path, out_path: str | Path, delta_metrics: Sequence[str] | None = None
) -> Path:
    """Write the HTML report of the saved run ``record_path`` (its companion ``.npz`` and the other runs of
    its folder included) to ``out_path``, atomically; returns ``out_path``. A missing or unreadable record
    is a ConfigError naming it."""
    path = Path(record_path)
    record = dict(history.load_run(path))
    record["_record_path"] = str(path)
    out = Path(out_path)
    history.atomic_write(out, render(record, delta_metrics).encode("utf-8"))
    return out


def _opt_path(value: Any) -> Path | None:
    return Path(value) if isinstance(value, (str, Path)) and str(value) else None


# ---------------------------------------------------------------------------- small pieces
def fmt(value: Any, metric: str | None = None) -> str:
    """A metric value as the results table shows it: 3 decimals, counts as integers, ``n/a`` for none."""
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, (int, float)):
        if math.isnan(value):
            return "nan"
        info = METRICS.get(metric or "")
        if info is not None and info.count:
            return str(int(value))
        return f"{value:.3f}"
    return str(value)


def _signed(value: Any) -> str:
    return f"{value:+.4f}" if isinstance(value, (int, float)) and not isinstance(value, bool) else "n/a"


def _sort_key(value: Any) -> str:
    """``data-sort`` of a numeric cell: the number, or empty (sorted last) when there is none."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return repr(float(value))
    return ""


def png_bytes(image: np.ndarray) -> bytes:
    """A PNG file of one image (H×W grey, H×W×3 RGB or H×W×4 RGBA, uint8), written with the standard
    library alone."""
    a = np.ascontiguousarray(image, dtype=np.uint8)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    if a.ndim == 2:
        colour = 0
    elif a.ndim == 3 and a.shape[2] in (3, 4):
        colour = 2 if a.shape[2] == 3 else 6
    else:
        raise ValueError(f"not an image: shape {a.shape}")
    h, w = a.shape[:2]
    raw = b"".join(b"\x00" + a[y].tobytes() for y in range(h))

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, colour, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def as_hwc(images: np.ndarray) -> list[np.ndarray]:
    """A stack of images (N×C×H×W with C in 1, 3, 4, robustcheck's layout; else N×H×W×C; N×H×W) as H×W or
    H×W×C uint8 images (other channel counts: the first channel; floats are read as [0, 1])."""
    a = np.asarray(images)
    if a.dtype != np.uint8:
        a = (np.clip(np.nan_to_num(a.astype(np.float64)), 0.0, 1.0) * 255).round().astype(np.uint8)
    if a.ndim == 2:  # one image
        a = a[None]
    if a.ndim == 4:
        if a.shape[1] in (1, 3, 4):  # robustcheck's layout first: N×C×H×W -> N×H×W×C
            a = a.transpose(0, 2, 3, 1)
        if a.shape[3] not in (1, 3, 4):
            a = a[..., :1]
    if a.ndim not in (3, 4):
        raise ValueError(f"not a stack of images: shape {a.shape}")
    return [a[i] for i in range(a.shape[0])]


def image_kind(name: str) -> str | None:
    """``clean`` / ``adv`` / ``purified`` for a companion array of gallery images (``gallery_clean``,
    ``adv_images``, ...), None for any other array (``gallery_index``, scores, per-sample results)."""
    n = name.lower()
    if not (n.startswith("gallery_") or "image" in n):
        return None
    for kind in ("purified", "adv", "clean"):
        if kind in n:
            return kind
    return None


_KIND_LABELS = {"clean": "clean x", "adv": "adversarial x′", "purified": "purified P(x′)"}


def case_arrays(arrays: Mapping[str, Any], suite: str, case: str) -> dict[str, Any]:
    """The companion arrays of one case by their name (the last part of ``"<suite>/<case>/.../<name>"``)."""
    prefix = f"{suite}/{case}/"
    return {k[len(prefix) :].rsplit("/", 1)[-1]: v for k, v in arrays.items() if k.startswith(prefix)}


def raised_flags(entry: Mapping[str, Any]) -> dict[str, str]:
    """The raised integrity indicators of a case record, each with its explanation: the record's own
    message for an indicator that made the case inconclusive, else the declared fix
    (``METRICS[name].inconclusive``) or description."""
    metrics = entry.get("metrics") or {}
    messages = entry.get("inconclusive") or {}
    raised = [k for k in indicator_flags() if metrics.get(k) is not None and metrics[k] != 0]
    raised += [k for k in messages if k not in raised]
    out = {}
    for k in raised:
        info = METRICS.get(k)
        declared = (info.inconclusive or info.description) if info is not None else ""
        out[k] = str(messages.get(k) or declared or "no explanation declared")
    return out


# ---------------------------------------------------------------------------- the page
class HtmlReport:
    """Builds the page; one method per section, each returning its HTML."""

    def __init__(
        self,
        record: Mapping[str, Any],
        delta_metrics: list[str],
        record_path: Path | None,
        results_dir: Path | None,
        arrays: dict[str, Any] | None,
        notes: list[str],
    ) -> None:
        self.record = record
        self.delta_metrics = delta_metrics
        self.record_path = record_path
        self.results_dir = results_dir
        self.arrays = arrays
        self.notes = notes
        self.suites: dict[str, dict[str, Any]] = dict(record.get("suites") or {})
        # stable element ids per case: suite index and case index (case ids are no valid ids)
        self.ids = {
            (suite, case): f"{i}-{j}"
            for i, (suite, cases) in enumerate(self.suites.items())
            for j, case in enumerate(cases)
        }

    def cases(self) -> list[tuple[str, str, dict[str, Any]]]:
        return [(s, c, e) for s, cases in self.suites.items() for c, e in cases.items()]

    def failing(self) -> list[tuple[str, str, dict[str, Any]]]:
        return [(s, c, e) for s, c, e in self.cases() if e.get("outcome") != "passed"]

    # -------------------------------------------------------------- page
    def page(self) -> str:
        counts = history.run_counts(self.record)
        name = self.record_path.name if self.record_path else None
        number = history.run_number(self.record_path) if self.record_path else None
        title = f"robustcheck run #{number}" if number is not None else "robustcheck run"
        verdict = "failed" if counts["failed"] or counts["inconclusive"] else "passed"
        roc, accuracy = self.plot_sections()
        sections = [
            ("results", "Results", self.results_section()),
            ("regressions", "Regressions against the baseline", self.regressions_section()),
            ("flags", "Integrity flags", self.flags_section()),
            ("failing", "Failing cases and their inputs", self.failing_section()),
            ("roc", "ROC curves", roc),
            ("accuracy", "Accuracy vs ε", accuracy),
            ("trends", "Trends over the saved runs", self.trends_section()),
        ]
        nav = " ".join(f'<a href="#{key}">{esc(label)}</a>' for key, label, _ in sections)
        notes = "".join(f'<p class="note">{esc(n)}</p>' for n in self.notes)
        body = "\n".join(
            f'<section id="{key}"><h2>{esc(label)}</h2>\n{html}</section>' for key, label, html in sections
        )
        return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{esc(_CSP)}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="robustcheck">
<title>{esc(title)}: {counts["passed"]} passed, {counts["failed"] + counts["inconclusive"]} failed</title>
<style>{_STYLE}</style>
</head>
<body>
<header>
<h1>{esc(title)} <span class="verdict {verdict}">{esc(verdict)}</span></h1>
<p class="counts"><span class="passed">{counts["passed"]} passed</span> ·
<span class="failed">{counts["failed"]} failed</span> ·
<span class="inconclusive">{counts["inconclusive"]} inconclusive</span>
{f"· record <code>{esc(name)}</code>" if name else ""}</p>
{self.facts()}
{notes}
<nav>{nav}</nav>
</header>
<main>
{body}
</main>
<script>{_SCRIPT}</script>
</body>
</html>
"""

    def facts(self) -> str:
        r = self.record
        git = r.get("git") or {}
        commit = git.get("commit") or "n/a"
        if git.get("dirty"):
            commit += " (uncommitted changes)"
        machine = r.get("machine") or {}
        rows = [
            ("started", r.get("started")),
            ("finished", r.get("finished")),
            ("scale", r.get("scale")),
            ("device", r.get("device")),
            ("seed", history.run_seed(r)),
            ("commit", commit),
            ("branch", git.get("branch")),
            ("compared with", r.get("compared_with") or "no baseline comparison"),
            ("tolerances", ", ".join(f"{m} {t}" for m, t in (r.get("tolerances") or {}).items()) or None),
            ("shard", r.get("shard")),
            ("merged from", ", ".join(str(m.get("record")) for m in r.get("merged_from") or []) or None),
            ("machine", ", ".join(str(machine[k]) for k in ("node", "gpu", "processor") if machine.get(k))),
            ("python / torch", f"{machine.get('python', '?')} / {machine.get('torch', '?')}"),
        ]
        cells = "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in rows if v)
        return f'<table class="facts">{cells}</table>'

    # -------------------------------------------------------------- results
    def results_section(self) -> str:
        if not self.suites:
            return "<p>This run evaluated no case.</p>"
        compared = bool(self.record.get("compared_with")) or any(e.get("deltas") for _, _, e in self.cases())
        columns, family = metric_columns(), family_columns()
        out = [
            '<p class="hint">Click a column header to sort (again to reverse); '
            "a missing value sorts last. The address suffix <code>#sort=corrected_accuracy</code> "
            "(<code>#sort=-…</code> descending) sorts on opening.</p>"
        ]
        for si, (suite, cases) in enumerate(self.suites.items()):
            head = ['<th data-key="case" data-type="text">case</th>']
            for key, header in columns:
                info = METRICS.get(key)
                tip = f"{key}: {info.description}" if info and info.description else key
                head.append(
                    f'<th data-key="{esc(key)}" data-type="number" title="{esc(tip)}">{esc(header)}</th>'
                )
            head.append('<th data-key="flags" data-type="text">flags</th>')
            if compared:
                head.append('<th data-key="delta" data-type="text">Δ vs baseline</th>')
            head.append('<th data-key="result" data-type="text">result</th>')
            rows = []
            for case, entry in cases.items():
                m = entry.get("metrics") or {}
                on_family = "|family=" in case
                cells = [f'<td class="case"><code>{esc(entry.get("case", case))}</code></td>']
                for key, _ in columns:
                    shown = family.get(key, key) if on_family else key
                    v = m.get(shown)
                    cells.append(f'<td class="num" data-sort="{_sort_key(v)}">{esc(fmt(v, shown))}</td>')
                raised = raised_flags(entry)
                tip = "; ".join(f"{k}: {v}" for k, v in raised.items())
                cells.append(
                    f'<td class="flags" title="{esc(tip)}">{esc(flags(m, entry.get("status")))}</td>'
                )
                if compared:
                    cells.append(f'<td class="delta">{esc(format_deltas(entry, self.delta_metrics))}</td>')
                label = result_label(entry)
                failed = entry.get("outcome") != "passed"
                result = esc(label)
                if failed:
                    result = f'<a href="#case-{self.ids[(suite, case)]}">{result}</a>'
                cells.append(f'<td class="result">{result}</td>')
                cls = (
                    "failed"
                    if failed
                    else ("warn" if entry.get("status") == "inconclusive-allowed" else "ok")
                )
                rows.append(f'<tr class="{cls}">{"".join(cells)}</tr>')
            n_failed = sum(e.get("outcome") != "passed" for e in cases.values())
            out.append(
                f'<h3 id="suite-{si}">{esc(suite)} <small>{len(cases) - n_failed} passed, '
                f"{n_failed} failed</small></h3>\n"
                f'<div class="scroll"><table class="results sortable" data-suite="{esc(suite)}">'
                f"<thead><tr>{''.join(head)}</tr></thead>\n<tbody>\n"
                + "\n".join(rows)
                + "\n</tbody></table></div>"
            )
        return "\n".join(out)

    # -------------------------------------------------------------- regressions
    def regressions_section(self) -> str:
        ref = self.record.get("compared_with")
        if not ref:
            return (
                "<p>This run was not compared with a baseline "
                "(<code>--robustcheck-compare</code> or <code>--robustcheck-compare-fail</code>).</p>"
            )
        rows, new = [], 0
        for suite, case, entry in self.cases():
            deltas = entry.get("deltas") or {}
            if not deltas:
                new += 1
            for metric, d in deltas.items():
                if not d.get("regressed"):
                    continue
                direction = "higher is better" if d.get("higher_is_better", True) else "lower is better"
                delta = d.get("delta")
                rows.append(
                    f"<tr><td>{esc(suite)}</td><td><code>{esc(case)}</code></td><td>{esc(metric)}</td>"
                    f'<td class="num">{esc(fmt(d.get("before")))}</td>'
                    f'<td class="num">{esc(fmt(d.get("after")))}</td>'
                    f'<td class="num bad">{esc(_signed(delta))}</td>'
                    f"<td>{esc(d.get('tolerance') or 'none')}</td><td>{esc(direction)}</td></tr>"
                )
        intro = f"<p>Compared with <code>{esc(ref)}</code>: "
        intro += (
            f"<strong>{len(rows)} regression(s)</strong> beyond tolerance"
            if rows
            else "no regression beyond tolerance"
        )
        intro += f"; {new} case(s) not in the reference.</p>" if new else ".</p>"
        if not rows:
            return intro
        return (
            intro + '<div class="scroll"><table class="regressions sortable"><thead><tr>'
            '<th data-type="text">suite</th><th data-type="text">case</th><th data-type="text">metric</th>'
            '<th data-type="number">before</th><th data-type="number">after</th><th data-type="number">Δ</th>'
            '<th data-type="text">tolerance</th><th data-type="text">direction</th></tr></thead><tbody>\n'
            + "\n".join(rows)
            + "\n</tbody></table></div>"
        )

    # -------------------------------------------------------------- flags
    def flags_section(self) -> str:
        rows = []
        for suite, case, entry in self.cases():
            status = entry.get("status")
            allowed = set(entry.get("inconclusive_allowed") or [])
            for name, why in raised_flags(entry).items():
                info = METRICS.get(name)
                short = info.flag if info is not None and info.flag else name
                if name in allowed:
                    effect = "inconclusive, allowed by the suite"
                elif info is not None and info.inconclusive and status == "inconclusive":
                    effect = "makes the case inconclusive (fails)"
                elif info is not None and info.inconclusive:
                    effect = "inconclusive indicator"
                else:
                    effect = "informational"
                rows.append(
                    f"<tr><td>{esc(suite)}</td><td><code>{esc(case)}</code></td>"
                    f'<td class="flag">{esc(short)}</td>'
                    f"<td>{esc(name)}</td><td>{esc(effect)}</td><td>{esc(why)}</td></tr>"
                )
        legend = "".join(
            f"<dt>{esc(short)}</dt><dd><code>{esc(name)}</code>: "
            f"{esc(METRICS[name].description or METRICS[name].inconclusive or '')}</dd>"
            for name, short in indicator_flags().items()
        )
        legend_html = f"<details><summary>What each flag means</summary><dl>{legend}</dl></details>"
        if not rows:
            return "<p>No integrity indicator was raised in this run.</p>" + legend_html
        return (
            f"<p>{len(rows)} raised indicator(s). A raised indicator means the attack itself may have failed "
            "(masked gradients, a broken attack), so the case's numbers are no robustness result.</p>"
            '<div class="scroll"><table class="flagtable sortable"><thead><tr>'
            '<th data-type="text">suite</th><th data-type="text">case</th><th data-type="text">flag</th>'
            '<th data-type="text">indicator</th><th data-type="text">effect</th>'
            '<th data-type="text">explanation</th></tr></thead><tbody>\n'
            + "\n".join(rows)
            + "\n</tbody></table></div>"
            + legend_html
        )

    # -------------------------------------------------------------- failing cases, gallery
    def failing_section(self) -> str:
        failing = self.failing()
        if not failing:
            return "<p>No case failed.</p>"
        if self.arrays is None:
            missing = (
                '<p class="note">No images: this report was rendered without the run\'s saved record, so '
                "its companion file (<code>.npz</code>) with the inputs is unknown.</p>"
            )
        else:
            missing = ""
        blocks = [missing] if missing else []
        for suite, case, entry in failing:
            lines = [
                *(entry.get("failures") or []),
                *(f"regression: {x}" for x in entry.get("regressions") or []),
            ]
            items = (
                "".join(f"<li>{esc(line)}</li>" for line in lines) or "<li>failed (no message recorded)</li>"
            )
            blocks.append(
                f'<article class="case-detail" id="case-{self.ids[(suite, case)]}">'
                f'<h3>{esc(suite)} <code>{esc(case)}</code> <span class="verdict failed">'
                f"{esc(result_label(entry))}</span></h3><ul>{items}</ul>"
                f"{self.gallery(suite, case) if self.arrays is not None else ''}</article>"
            )
        return "\n".join(blocks)

    def gallery(self, suite: str, case: str) -> str:
        arrays = case_arrays(self.arrays or {}, suite, case)
        stacks: dict[str, list[np.ndarray]] = {}
        for name, value in arrays.items():
            kind = image_kind(name)
            if kind is None or kind in stacks:
                continue
            try:
                stacks[kind] = as_hwc(value)
            except ValueError:
                continue
        if not stacks:
            return '<p class="noimages">no images stored for this case</p>'
        n = max(len(s) for s in stacks.values())
        index = arrays.get("gallery_index")
        idx = [int(i) for i in np.asarray(index).reshape(-1)] if index is not None else list(range(n))

        def per_sample(name: str, i: int) -> Any:
            a = arrays.get(name)
            if a is None or i >= len(idx):
                return None
            a = np.asarray(a).reshape(-1)
            return a[idx[i]].item() if 0 <= idx[i] < a.shape[0] else None

        head = "".join(f"<th>input {esc(idx[i] if i < len(idx) else i)}</th>" for i in range(n))
        rows = []
        for kind in ("clean", "adv", "purified"):
            if kind not in stacks:
                continue
            cells = []
            for i in range(n):
                if i >= len(stacks[kind]):
                    cells.append("<td></td>")
                    continue
                caption = self.caption(kind, per_sample, i)
                alt = f"{_KIND_LABELS[kind]} of input {idx[i] if i < len(idx) else i}"
                cells.append(
                    f'<td><figure><img class="sample" src="{_data_uri(png_bytes(stacks[kind][i]))}" '
                    f'alt="{esc(alt)}" title="{esc(alt + (": " + caption if caption else ""))}">'
                    f"<figcaption>{esc(caption)}</figcaption></figure></td>"
                )
            rows.append(f'<tr class="{kind}"><th>{esc(_KIND_LABELS[kind])}</th>{"".join(cells)}</tr>')
        return (
            f'<div class="scroll"><table class="gallery"><thead><tr><th></th>{head}</tr></thead><tbody>'
            + "".join(rows)
            + "</tbody></table></div>"
        )

    @staticmethod
    def caption(kind: str, per_sample: Any, i: int) -> str:
        """``label 7 → 3`` under an image: the true label and the defended pipeline's prediction on it."""
        label = per_sample("label", i)
        pred = per_sample("defended_pred_clean" if kind == "clean" else "defended_pred_adv", i)
        if kind == "purified":
            pred = None  # the defended prediction is shown under x′
        parts = []
        if label is not None:
            parts.append(f"label {label}")
        if pred is not None:
            parts.append(f"→ {pred}")
        if kind == "adv" and per_sample("flagged", i):
            parts.append("(flagged)")
        return " ".join(parts)

    # -------------------------------------------------------------- ROC and accuracy vs ε
    def plot_sections(self) -> tuple[str, str]:
        """(ROC section, accuracy-vs-ε section), drawn by :func:`robustcheck.plots.write_plots` per suite."""
        from robustcheck.plots import write_plots

        roc: list[str] = []
        acc: list[str] = []
        errors: list[str] = []
        arrays = self.arrays or {}
        with tempfile.TemporaryDirectory(prefix="rc-html-") as tmp:
            for si, (suite, cases) in enumerate(self.suites.items()):
                scores = {k: v for k, v in arrays.items() if k.startswith(f"{suite}/")}
                out = Path(tmp) / str(si)
                try:
                    written = write_plots({"suites": {suite: cases}}, scores, out)
                except ConfigError as exc:  # no matplotlib
                    errors.append(str(exc))
                    break
                except (ValueError, KeyError, TypeError, OSError) as exc:
                    errors.append(f"{suite}: plots not drawn: {exc}")
                    continue
                for path in sorted(written):
                    kind = path.stem.partition("_")[0]
                    what = "ROC curves" if kind == "roc" else "accuracy vs ε"
                    alt = f"{what} of suite {suite} ({path.stem})"
                    uri = _data_uri(path.read_bytes())
                    img = f'<figure class="chart"><img src="{uri}" alt="{esc(alt)}"></figure>'

                    (roc if kind == "roc" else acc).append(img)
        note = "".join(f'<p class="note">{esc(e)}</p>' for e in dict.fromkeys(errors))
        if roc:
            roc_html = note + f'<div class="charts">{"".join(roc)}</div>'
        elif self.arrays is None:
            roc_html = note + (
                "<p>No ROC curves: they need the detector scores of the run's companion file "
                "(<code>.npz</code> beside the saved record), and this report was rendered without the "
                "saved record (write it with <code>write_html</code> from a saved run, or give the run a "
                "results folder).</p>"
            )
        else:
            roc_html = note + "<p>No ROC curves: no detector case of this run has scores.</p>"
        if acc:
            acc_html = note + f'<div class="charts">{"".join(acc)}</div>'
        else:
            acc_html = note + "<p>No accuracy-vs-ε curves: no case of this run has a corrected accuracy.</p>"
        return roc_html, acc_html

    # -------------------------------------------------------------- trends
    def trend_runs(self) -> tuple[list[tuple[str, Mapping[str, Any]]], list[str]]:
        """(path, record) of the runs in the trend, oldest first: the saved runs of the results folder up to
        this run (at most :data:`TREND_RUNS`), and this run last if it is not saved."""
        notes: list[str] = []
        paths = history.list_runs(self.results_dir) if self.results_dir is not None else []
        this = self.record_path.resolve() if self.record_path is not None else None
        number = history.run_number(self.record_path) if self.record_path is not None else None
        if number is not None:
            paths = [p for p in paths if (history.run_number(p) or 0) <= number]
        paths = [p for p in paths if this is None or p.resolve() != this][-(TREND_RUNS - 1) :]
        runs: list[tuple[str, Mapping[str, Any]]] = []
        for p in paths:
            try:
                runs.append((str(p), history.load_run(p)))
            except RobustcheckError as exc:
                notes.append(f"{p.name} left out of the trends: {exc}")
        runs.append((str(self.record_path) if self.record_path else "this run", self.record))
        return runs, notes

    def trends_section(self) -> str:
        if self.results_dir is None:
            return (
                "<p>No trends: the saved runs are unknown (this report was rendered without the run's "
                "results folder). Each chart would show the case's metric over the saved runs.</p>"
            )
        runs, notes = self.trend_runs()
        trends = [history.metric_trend(runs, metric) for metric in TREND_METRICS]
        out = [f'<p class="note">{esc(n)}</p>' for n in notes]
        labels = [r.label if r.number is not None else "this run" for r in trends[0].runs]
        out.append(
            f"<p>{len(runs)} run(s), {esc(labels[0])} to {esc(labels[-1])}. "
            "One chart per case; a red ring marks a value worse than the case's previous one beyond the "
            "metric's tolerance.</p>"
            if len(runs) > 1
            else "<p>Only this run is saved so far: each chart has one point.</p>"
        )
        worsened = sorted({(s, c) for t in trends for s, c, run in t.worsened() if run is t.runs[-1]})
        if worsened:
            items = "".join(f"<li>{esc(s)} <code>{esc(c)}</code></li>" for s, c in worsened)
            out.append(
                f"<p><strong>{len(worsened)} case(s) worsened in this run:</strong></p><ul>{items}</ul>"
            )
        for suite, cases in self.suites.items():
            charts = []
            for case in cases:
                charts.append(
                    f'<figure class="trend" id="trend-{self.ids[(suite, case)]}">'
                    f"{trend_svg(suite, case, trends, labels)}<figcaption><code>{esc(case)}</code>"
                    "</figcaption></figure>"
                )
            out.append(
                f'<details open><summary><h3 class="inline">{esc(suite)}</h3></summary>'
                f'<div class="trends">{"".join(charts)}</div></details>'
            )
        return "\n".join(out)


def trend_svg(
    suite: str,
    case: str,
    trends: Sequence[history.Trend],
    labels: Sequence[str],
    width: int = 280,
    height: int = 132,
) -> str:
    """One case's trend chart as inline SVG: a line per metric of ``trends`` the case has, over the runs
    (a gap where a run lacks the value), each point with its value as a tooltip and a red ring where it
    worsened beyond the tolerance."""
    left, right, top, bottom = 34, 8, 8, 36
    pw, ph = width - left - right, height - top - bottom
    n = len(labels)
    series: list[tuple[history.Trend, list[history.TrendPoint | None]]] = []
    for t in trends:
        pts = t.cases.get((suite, case)) or []
        if any(p is not None and p.value is not None for p in pts):
            series.append((t, pts))
    values = [p.value for _, pts in series for p in pts if p is not None and p.value is not None]
    unit = all(METRICS[t.metric].range == (0.0, 1.0) for t, _ in series if t.metric in METRICS)
    lo, hi = (0.0, 1.0) if unit else (min(values, default=0.0), max(values, default=1.0))
    if hi - lo < 1e-12:
        lo, hi = lo - 0.5, hi + 0.5

    mid = (lo + hi) / 2

    def x(i: int) -> float:
        return left + (pw * i / (n - 1) if n > 1 else pw / 2)

    def y(v: float) -> float:
        return top + ph * (1 - (v - lo) / (hi - lo))

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="trendchart" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{esc(f"trend of {suite} [{case}]")}">',
        f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="#fafafa" stroke="#ccc"/>',
        f'<line x1="{left}" x2="{left + pw}" y1="{top + ph / 2}" y2="{top + ph / 2}" stroke="#e3e3e3"/>',
        f'<text x="{left - 4}" y="{top + 4}" text-anchor="end" class="tick">{hi:.3g}</text>',
        f'<text x="{left - 4}" y="{top + ph / 2 + 3}" text-anchor="end" class="tick">{mid:.3g}</text>',
        f'<text x="{left - 4}" y="{top + ph}" text-anchor="end" class="tick">{lo:.3g}</text>',
        f'<text x="{left}" y="{top + ph + 11}" class="tick">{esc(labels[0].split(" ")[0])}</text>',
    ]
    if n > 1:
        parts.append(
            f'<text x="{left + pw}" y="{top + ph + 11}" text-anchor="end" class="tick">'
            f"{esc(labels[-1].split(' ')[0])}</text>"
        )
    if not series:
        parts.append(
            f'<text x="{left + pw / 2}" y="{top + ph / 2}" text-anchor="middle" class="tick">'
            f"no {esc(' / '.join(TREND_METRICS))} in these runs</text></svg>"
        )
        return "".join(parts)
    legend = []
    for k, (t, pts) in enumerate(series):
        colour = _COLOURS[k % len(_COLOURS)]
        short = dict(metric_columns()).get(t.metric, t.metric)
        segment: list[str] = []
        segments: list[list[str]] = []
        for i, p in enumerate(pts):
            if p is None or p.value is None:
                if segment:
                    segments.append(segment)
                segment = []
                continue
            segment.append(f"{x(i):.1f},{y(p.value):.1f}")
        if segment:
            segments.append(segment)
        for seg in segments:
            if len(seg) > 1:
                parts.append(
                    f'<polyline fill="none" stroke="{colour}" stroke-width="1.5" points="{" ".join(seg)}"/>'
                )
        for i, p in enumerate(pts):
            if p is None or p.value is None:
                continue
            tip = f"{labels[i]}: {p.metric} {p.value:.4f}" + (" (worse than before)" if p.worsened else "")
            parts.append(
                f'<circle cx="{x(i):.1f}" cy="{y(p.value):.1f}" r="2.8" fill="{colour}">'
                f"<title>{esc(tip)}</title></circle>"
            )
            if p.worsened:
                parts.append(
                    f'<circle class="worse" cx="{x(i):.1f}" cy="{y(p.value):.1f}" r="6" fill="none" '
                    f'stroke="#d62728" stroke-width="1.6"/>'
                )
        legend.append(
            f'<rect x="{left + 90 * k}" y="{height - 11}" width="8" height="8" fill="{colour}"/>'
            f'<text x="{left + 90 * k + 11}" y="{height - 4}" class="tick">{esc(short)}</text>'
        )
    parts += legend
    parts.append("</svg>")
    return "".join(parts)


_STYLE = """
:root { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #222; }
body { margin: 0 1.5em 3em; }
h1 { margin: .6em 0 .2em; font-size: 1.5em; }
h2 { border-bottom: 2px solid #ddd; padding-bottom: .2em; margin-top: 1.6em; }
h3 small { font-weight: normal; color: #666; font-size: .8em; }
h3.inline { display: inline; }
code { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: .92em; }
nav { margin: .6em 0; position: sticky; top: 0; background: #fff; padding: .4em 0; z-index: 2;
      border-bottom: 1px solid #eee; }
nav a { margin-right: 1em; }
.counts .passed { color: #1a7f37; } .counts .failed { color: #cf222e; }
.counts .inconclusive { color: #9a6700; }
.verdict { font-size: .7em; padding: .1em .5em; border-radius: .3em; color: #fff; vertical-align: middle; }
.verdict.passed { background: #1a7f37; } .verdict.failed { background: #cf222e; }
.facts th { text-align: left; padding-right: 1em; color: #555; font-weight: normal; }
.facts td, .facts th { padding: .05em .4em; font-size: .9em; }
.note { color: #9a6700; } .hint { color: #666; font-size: .9em; }
.scroll { overflow-x: auto; }
table.sortable { border-collapse: collapse; font-size: .88em; margin: .4em 0 1em; }
table.sortable th, table.sortable td { border: 1px solid #ddd; padding: .2em .5em; }
table.sortable thead th { background: #f3f4f6; cursor: pointer; user-select: none; white-space: nowrap; }
td.case code { white-space: nowrap; }
table.sortable thead th::after { content: " ⇅"; color: #aaa; }
table.sortable thead th[aria-sort="ascending"]::after { content: " ▲"; color: #222; }
table.sortable thead th[aria-sort="descending"]::after { content: " ▼"; color: #222; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.bad { color: #cf222e; }
tr.failed { background: #ffebe9; } tr.warn { background: #fff8c5; }
tr.failed td.result a { color: #cf222e; font-weight: bold; }
td.flags, td.flag { font-family: ui-monospace, monospace; font-size: .9em; }
article.case-detail { border: 1px solid #eee; border-left: 4px solid #cf222e; padding: .2em 1em;
      margin: 1em 0; }
table.gallery th { font-weight: normal; color: #555; font-size: .85em; text-align: left;
      padding-right: .6em; }
table.gallery figure { margin: 2px 4px; text-align: center; }
img.sample { width: 84px; height: auto; image-rendering: pixelated; border: 1px solid #ccc; display: block; }
table.gallery figcaption { font-size: .75em; color: #444; }
.noimages { color: #666; font-style: italic; }
.charts { display: flex; flex-wrap: wrap; gap: 1em; }
figure.chart { margin: 0; } figure.chart img { max-width: 560px; width: 100%; border: 1px solid #eee; }
figure.chart figcaption, figure.trend figcaption { font-size: .8em; color: #555; max-width: 280px;
      overflow-wrap: anywhere; }
.trends { display: flex; flex-wrap: wrap; gap: .6em; }
figure.trend { margin: 0; }
svg.trendchart .tick { font-size: 9px; fill: #555; }
details { margin: .5em 0; } summary { cursor: pointer; }
dl dt { font-family: ui-monospace, monospace; font-weight: bold; } dl dd { margin: 0 0 .4em 1.5em; }
"""

# Click a header to sort its table (again: reverse). Numeric columns (data-type="number") sort by data-sort,
# missing values last in either direction; ties keep their order. "#sort=KEY" / "#sort=-KEY" in the address
# clicks the header with data-key=KEY of every table once (twice: descending) when the page opens.
_SCRIPT = """
(function () {
  "use strict";
  function cellValue(row, i, numeric) {
    var cell = row.cells[i];
    if (!cell) return null;
    if (numeric) {
      var raw = cell.getAttribute("data-sort");
      if (raw === null) raw = cell.textContent;
      var v = parseFloat(raw);
      return isNaN(v) ? null : v;
    }
    var t = cell.textContent.trim();
    return t === "" ? null : t.toLowerCase();
  }
  function sortTable(table, th) {
    var headers = Array.prototype.slice.call(table.tHead.rows[0].cells);
    var i = headers.indexOf(th);
    var dir = th.getAttribute("aria-sort") === "ascending" ? "descending" : "ascending";
    headers.forEach(function (h) { h.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", dir);
    var numeric = th.getAttribute("data-type") === "number";
    var sign = dir === "ascending" ? 1 : -1;
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows).map(function (r, k) {
      return { row: r, key: cellValue(r, i, numeric), k: k };
    });
    rows.sort(function (a, b) {
      if (a.key === null || b.key === null) {
        if (a.key === b.key) return a.k - b.k;
        return a.key === null ? 1 : -1;
      }
      var c = numeric ? a.key - b.key : (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
      return c !== 0 ? sign * c : a.k - b.k;
    });
    rows.forEach(function (r) { body.appendChild(r.row); });
  }
  var tables = document.querySelectorAll("table.sortable");
  Array.prototype.forEach.call(tables, function (table) {
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th) {
      th.tabIndex = 0;
      th.addEventListener("click", function () { sortTable(table, th); });
      th.addEventListener("keydown", function (e) {
        if (e.key === "Enter" || e.key === " ") { e.preventDefault(); sortTable(table, th); }
      });
    });
  });
  var m = /^#sort=(-?)(.+)$/.exec(window.location.hash);
  if (m) {
    var key = decodeURIComponent(m[2]);
    Array.prototype.forEach.call(tables, function (table) {
      Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th) {
        if (th.getAttribute("data-key") !== key) return;
        th.click();
        if (m[1] === "-") th.click();
      });
    });
  }
})();
"""
