"""Tables (tabulate), JSON run records, and the report formats a run writes.

A report format is one function from the run record to text, registered with :func:`report_format`;
``--robustcheck-report=FORMAT=PATH`` (or its ini twin) writes it at the end of the run. Adding a format is
adding one decorated function here (or in your conftest/plugin) plus its test.
"""

from __future__ import annotations

import math
import os
import platform
import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tabulate import tabulate

from robustcheck.allocator import malloc_setting
from robustcheck.metrics import METRICS


@dataclass(frozen=True)
class ReportFormat:
    """A report written from the run record: ``render(record, delta_metrics) -> str``."""

    name: str
    description: str
    render: Callable[[dict[str, Any], list[str]], str]


#: Report formats by name (``--robustcheck-report=FORMAT=PATH``).
REPORT_FORMATS: dict[str, ReportFormat] = {}


def report_format(
    name: str, description: str
) -> Callable[[Callable[[dict[str, Any], list[str]], str]], Callable[[dict[str, Any], list[str]], str]]:
    """Register ``render(record, delta_metrics) -> str`` as report format ``name`` (a name clash is an
    error: formats are chosen by name on the command line)."""
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"report format name must be an identifier, got {name!r}")

    def register(
        render: Callable[[dict[str, Any], list[str]], str],
    ) -> Callable[[dict[str, Any], list[str]], str]:
        if name in REPORT_FORMATS and REPORT_FORMATS[name].render is not render:
            raise ValueError(f"report format {name!r} is already registered")
        REPORT_FORMATS[name] = ReportFormat(name, description, render)
        return render

    return register


def parse_reports(spec: str | None, where: str = "--robustcheck-report") -> dict[str, str]:
    """``"markdown=summary.md,text=out/table.txt"`` → {format: path}; one ConfigError per bad entry."""
    from robustcheck.errors import ConfigError

    out: dict[str, str] = {}
    for item in [p.strip() for p in (spec or "").split(",") if p.strip()]:
        name, sep, path = item.partition("=")
        name, path = name.strip(), path.strip()
        if not sep or not path:
            raise ConfigError(f"{where}: {item!r} is not FORMAT=PATH (e.g. markdown=summary.md)")
        if name not in REPORT_FORMATS:
            raise ConfigError(
                f"{where}: unknown report format {name!r}; known: {', '.join(sorted(REPORT_FORMATS))}"
            )
        if name in out:
            raise ConfigError(f"{where}: report format {name!r} is given twice")
        out[name] = path
    return out


#: ``status`` of a case record (robustcheck.evaluate.CaseResult.status) as shown in the result column.
STATUS_LABELS = {"inconclusive": "INCONCLUSIVE", "inconclusive-allowed": "passed (inconclusive allowed)"}


# Everything below reads the metric declarations (robustcheck.metrics.METRICS) when it runs, so that a metric
# declared later (register_metric) shows up too.
def metric_columns() -> list[tuple[str, str]]:
    """(metric, short header) of the table's metric columns: the declared metrics with a ``column``, in
    declaration order."""
    return [(m.name, m.column) for m in METRICS.values() if m.column is not None]


def table_columns() -> list[tuple[str, str]]:
    """(key, header) of every column of the results table: case, the metric columns, flags, result."""
    return [("case", "case"), *metric_columns(), ("flags", "flags"), ("outcome", "result")]


def indicator_flags() -> dict[str, str]:
    """Attack-failure indicators (robustcheck.indicators) and their short names in the ``flags`` column."""
    return {m.name: m.flag for m in METRICS.values() if m.flag is not None}


def family_columns() -> dict[str, str]:
    """Family (worst-case) rows show these metrics in the columns of those: {column metric: family metric}."""
    return {m.name: m.family_column for m in METRICS.values() if m.family_column is not None}


def default_delta_metrics() -> tuple[str, ...]:
    """The metrics shown in the Δ-vs-baseline column when no tolerance is set."""
    return tuple(m.name for m in METRICS.values() if m.default_delta)


def summary_columns() -> list[tuple[str, str]]:
    """(metric, header) of the Markdown summary's columns."""
    return [(m.name, m.column or m.name) for m in METRICS.values() if m.summary]


_DERIVED = {
    "TABLE_COLUMNS": table_columns,
    "INDICATOR_FLAGS": indicator_flags,
    "DEFAULT_DELTA_METRICS": default_delta_metrics,
}


def __getattr__(name: str) -> Any:
    """``TABLE_COLUMNS``, ``INDICATOR_FLAGS`` and ``DEFAULT_DELTA_METRICS``, derived from the declarations
    each time they are read (the names importers know)."""
    if name in _DERIVED:
        return _DERIVED[name]()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def flags(metrics: dict[str, Any], status: str | None = None) -> str:
    """Short names of the raised indicators, ``-`` when none is raised, ``n/a`` when none was computed;
    ``[inconclusive]`` / ``[inconclusive-allowed]`` after them when the case's status says so."""
    short = indicator_flags()
    seen = [k for k in short if metrics.get(k) is not None]
    raised = [short[k] for k in seen if metrics[k] != 0]  # NaN counts as raised
    text = ",".join(raised) if raised else ("-" if seen else "n/a")
    if status in ("inconclusive", "inconclusive-allowed"):
        text += f" [{status}]"
    return text


def result_label(record: dict[str, Any]) -> str:
    """The result column: ``passed``, ``FAILED``, ``INCONCLUSIVE`` or ``passed (inconclusive allowed)``."""
    return STATUS_LABELS.get(record.get("status") or "", record.get("outcome", "?"))


def _fmt(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return f"{value:.3f}"
    return str(value)


def _fmt_metric(metric: str, value: Any) -> str:
    """A metric's value in the table: counts (``MetricInfo.count``) as integers."""
    info = METRICS.get(metric)
    if info is not None and info.count and value is not None:
        return str(int(value))
    return _fmt(value)


def paper_metric(records: list[dict[str, Any]]) -> str | None:
    """The metric of the ``paper`` / ``Δpaper`` columns: the first metric any case record carries a paper
    value for (``Suite(references=...)``); None when no record has one (the table is then unchanged)."""
    for r in records:
        for metric in r.get("paper") or {}:
            return str(metric)
    return None


def paper_cells(record: dict[str, Any], metric: str) -> tuple[str, str]:
    """(paper value, ours − paper) of ``metric`` for one case record; ``-`` where the case has no paper
    value, ``n/a`` as the difference where ours is missing."""
    ref = (record.get("paper") or {}).get(metric)
    if not ref or ref.get("value") is None:
        return "-", "-"
    paper = float(ref["value"])
    ours = (record.get("metrics") or {}).get(metric)
    if ours is None or (isinstance(ours, float) and math.isnan(ours)):
        return _fmt(paper), "n/a"
    return _fmt(paper), f"{float(ours) - paper:+.3f}"


def format_table(records: list[dict[str, Any]], delta_metrics: list[str] | None = None) -> str:
    """One table of case records (``{"case", "metrics", "outcome"}``); with ``delta_metrics``, a
    Δ-vs-baseline column of those metrics. When a record carries paper values (``"paper"``), a ``paper``
    and a ``Δpaper`` (ours − paper) column of the first referenced metric follow the metric columns."""
    columns, family = metric_columns(), family_columns()
    paper = paper_metric(records)
    rows = []
    for r in records:
        m = r.get("metrics", {})
        on_family_row = "|family=" in r["case"]
        row = [r["case"]]
        for key, _ in columns:
            shown = family.get(key, key) if on_family_row else key
            row.append(_fmt_metric(shown, m.get(shown)))
        if paper is not None:
            row.extend(paper_cells(r, paper))
        row.append(flags(m, r.get("status")))
        if delta_metrics is not None:
            row.append(format_deltas(r, delta_metrics))
        row.append(result_label(r))
        rows.append(row)
    paper_headers = [] if paper is None else [f"paper {_paper_label(paper)}", "Δpaper"]
    headers = ["case", *(h for _, h in columns), *paper_headers, "flags", "result"]
    if delta_metrics is not None:
        headers.insert(-1, "Δ vs base")
    return tabulate(rows, headers=headers, tablefmt="simple", disable_numparse=True)


def _paper_label(metric: str) -> str:
    """The short name of the referenced metric in the paper column's header."""
    info = METRICS.get(metric)
    return (info.column if info is not None and info.column else None) or metric


def git_info(cwd: str | os.PathLike[str]) -> dict[str, Any]:
    def run(*args: str) -> str | None:
        try:
            out = subprocess.run(
                ["git", *args], check=False, cwd=cwd, capture_output=True, text=True, timeout=10
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        return out.stdout.strip() if out.returncode == 0 else None

    commit = run("rev-parse", "HEAD")
    status = run("status", "--porcelain")
    return {
        "commit": commit,
        "branch": run("rev-parse", "--abbrev-ref", "HEAD"),
        "dirty": bool(status) if status is not None else None,
    }


def machine_info() -> dict[str, Any]:
    import numpy
    import torch

    info = {
        "node": platform.node(),
        "system": platform.system(),
        "release": platform.release(),
        "machine": platform.machine(),
        "processor": platform.processor(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "cuda": torch.version.cuda if torch.cuda.is_available() else None,
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "malloc": malloc_setting(),  # robustcheck.allocator: timings depend on it, numbers do not
    }
    try:
        import torchattacks

        info["torchattacks"] = torchattacks.__version__
    except (ImportError, AttributeError):  # torchattacks is optional at run time
        info["torchattacks"] = None
    return info


def write_run_record(results_dir: str | os.PathLike[str], record: dict[str, Any]) -> Path:
    """Write ``record`` as the next numbered JSON file, atomically; returns its path
    (see :func:`robustcheck.history.save_run`)."""
    from robustcheck.history import save_run

    return save_run(results_dir, record)


# ---------------------------------------------------------------------------- Δ vs baseline
def format_deltas(record: dict[str, Any], metrics: list[str]) -> str:
    """``corrected -0.012 AUC +0.003``; a ``!`` marks a regression; ``new`` a case not in the reference."""
    deltas = record.get("deltas") or {}
    if not deltas:
        return "new" if record.get("compared_with") else ""
    short = dict(metric_columns())
    parts = []
    for m in metrics:
        d = deltas.get(m)
        if d is None:
            continue
        mark = "!" if d.get("regressed") else ""
        delta = d.get("delta")
        if delta is None or (isinstance(delta, float) and math.isnan(delta)):
            if d.get("before") is not None and d.get("after") is None:  # a number became n/a
                parts.append(f"{short.get(m, m)} n/a{mark}")
            continue
        parts.append(f"{short.get(m, m)} {delta:+.3f}{mark}")
    return " ".join(parts)


# ---------------------------------------------------------------------------- Markdown (GFM) escaping
# Characters that start an inline construct of GitHub-flavoured Markdown (emphasis, code, links, images,
# autolinks and raw HTML, entities, strikethrough, math, a heading's closing #s) or end a table cell; each
# is written backslash-escaped, which every CommonMark renderer shows as the character itself (``!`` starts
# an image only before ``[``, which is escaped). An ``_`` between two
# letters or digits can neither open nor close emphasis (CommonMark's flanking rules), so identifiers such
# as ``shattered_gradients`` stay readable in the Markdown source.
_MD_SPECIAL = re.compile(r"[\\`*\[\]<>&|~$#]|(?<![^\W_])_|_(?![^\W_])")
_MD_NEWLINE = re.compile(r"\r\n|\r|\n")


def _md_text(value: Any) -> str:
    """``value`` as literal text in a GFM table cell, a heading or a list item: punctuation that would start
    Markdown is escaped (``\\|`` keeps a pipe inside its cell), a line break is ``<br>`` (the only line
    break a table cell has) and leading / trailing blanks, which a cell would drop, are character
    references."""
    lines = [_MD_SPECIAL.sub(lambda m: "\\" + m.group(0), line) for line in _MD_NEWLINE.split(str(value))]
    text = "<br>".join(lines)
    body = text.strip(" \t")
    if not body:
        return "".join(f"&#{ord(c)};" for c in text)
    lead, trail = text[: len(text) - len(text.lstrip(" \t"))], text[len(text.rstrip(" \t")) :]
    return "".join(f"&#{ord(c)};" for c in lead) + body + "".join(f"&#{ord(c)};" for c in trail)


def _md_code(value: Any, *, in_table: bool) -> str:
    """``value`` as one code span, shown verbatim: a fence one backtick longer than the longest run of
    backticks inside, padded with a space where the text starts or ends with a backtick or with spaces
    (the renderer strips one space from each side), and, in a table cell, every ``|`` written ``\\|`` (GFM
    splits cells before it parses code spans; it removes that backslash again). A line break (no code span
    can hold one) becomes ``<br>`` between two spans."""
    text = str(value)
    parts = _MD_NEWLINE.split(text)
    if len(parts) > 1:
        return "<br>".join(_md_code(p, in_table=in_table) for p in parts)
    if not text:
        return ""
    fence = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    body = text.replace("|", "\\|") if in_table else text
    if text[0] == "`" or text[-1] == "`" or (text[0] == " " and text[-1] == " " and text.strip(" ")):
        body = f" {body} "
    return f"{fence}{body}{fence}"


def _md_row(cells: list[str]) -> str:
    """One GFM table row of already escaped cells."""
    return "| " + " | ".join(cells) + " |"


def _md_result(r: dict[str, Any]) -> str:
    """The result cell of the Markdown summary."""
    if r.get("status") == "inconclusive":
        return "❌ inconclusive"
    if r.get("status") == "inconclusive-allowed":
        allowed = ", ".join(str(x) for x in r.get("inconclusive_allowed") or [])
        return "⚠️ passed (inconclusive allowed: " + _md_text(allowed) + ")"
    return "✅ passed" if r.get("outcome") == "passed" else "❌ failed"


@report_format("markdown", "Markdown summary for $GITHUB_STEP_SUMMARY or a pull-request comment")
def format_markdown(run: dict[str, Any], delta_metrics: list[str]) -> str:
    """A Markdown summary of a run record, for ``$GITHUB_STEP_SUMMARY`` or a PR comment. Written for
    GitHub-flavoured Markdown: every cell is escaped (:func:`_md_text`, :func:`_md_code`), so a case id such
    as ``ae-kl|fgsm|eps=0.1|grey-box`` stays whole in its cell whatever characters it holds."""
    cases = [r for suite in run.get("suites", {}).values() for r in suite.values()]
    failed = [r for r in cases if r.get("outcome") != "passed"]
    ref = run.get("compared_with")
    commit = (run.get("git") or {}).get("commit") or "n/a"
    scale, device = (_md_code(run.get(k), in_table=False) for k in ("scale", "device"))
    lines = [
        f"## robustcheck: {len(cases) - len(failed)} passed, {len(failed)} failed",
        "",
        f"scale {scale}, device {device}, commit {_md_code(commit, in_table=False)}"
        + (f", compared with {_md_text(ref)}" if ref else ", no baseline comparison"),
        "",
    ]
    cols, family = summary_columns(), family_columns()
    for suite, recs in run.get("suites", {}).items():
        paper = paper_metric(list(recs.values()))
        paper_headers = [] if paper is None else [_md_text(f"paper {_paper_label(paper)}"), "Δpaper"]
        header = ["case", *(_md_text(h) for _, h in cols), *paper_headers, "Δ vs baseline", "result"]
        lines += [
            f"### {_md_text(suite)}",
            "",
            _md_row(header),
            "|---|" + "---:|" * (len(cols) + len(paper_headers)) + "---|---|",
        ]
        for case, r in recs.items():
            m = r.get("metrics", {})
            on_family_row = "|family=" in r.get("case", case)  # worst-case values, as format_table shows
            cells = [
                _md_code(r.get("case", case), in_table=True),
                *(_md_text(_fmt(m.get(family.get(k, k) if on_family_row else k))) for k, _ in cols),
                *([] if paper is None else [_md_text(c) for c in paper_cells(r, paper)]),
                _md_text(format_deltas(r, delta_metrics)),
                _md_result(r),
            ]
            lines.append(_md_row(cells))
        lines.append("")
    if failed:
        lines += ["### Failures", ""]
        for r in failed:
            where = _md_code(f"{r.get('suite')}[{r.get('case')}]", in_table=False)
            for msg in list(r.get("failures") or []) + [
                f"regression: {x}" for x in r.get("regressions") or []
            ]:
                lines.append(f"- {where}: {_md_text(msg)}")
        lines.append("")
    return "\n".join(lines)


def inconclusive_lines(name: str, failures: list[str], case: Any = None) -> list[str]:
    """Failure lines of an inconclusive case: what was raised, why it is no result, and how to opt out."""
    lines = [
        f"robustcheck case {name} is INCONCLUSIVE: the evaluation itself failed, so its numbers are no "
        f"robustness result:"
    ]
    lines += [f"  - {f.removeprefix('INCONCLUSIVE: ')}" for f in failures]
    names = [f.removeprefix("INCONCLUSIVE: ").split(" ", 1)[0] for f in failures]
    sel = ""
    if case is not None and hasattr(case, "defence"):
        sel = f"defence={case.defence.id!r}, attack={case.attack.id!r}, threat={case.threat!r}, "
    lines.append(
        f"  fix the evaluation as above, or accept it visibly in the suite: "
        f"Thresholds({sel}allow_inconclusive={names!r})"
    )
    return lines


@report_format("text", "the terminal's results tables, one per suite, as plain text")
def format_text(run: dict[str, Any], delta_metrics: list[str]) -> str:
    parts = []
    for suite, cases in run.get("suites", {}).items():
        parts.append(f"robustcheck: {suite}\n{format_table(list(cases.values()), delta_metrics or None)}")
    return "\n\n".join(parts) + "\n"


@report_format("html", "one self-contained HTML page: tables, charts, flags, regressions, images, trends")
def format_html(run: dict[str, Any], delta_metrics: list[str]) -> str:
    """The HTML report (:mod:`robustcheck.html_report`). That module draws with :mod:`robustcheck.plots` and
    reads this one, so it sits above it and is resolved by name when the format is used, as a plugin's
    format would be (no import of it here: the layers stay one-way)."""
    import importlib

    return str(importlib.import_module("robustcheck.html_report").render(run, delta_metrics))
