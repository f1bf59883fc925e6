"""The Markdown summary renders as intended in GitHub-flavoured Markdown (issue 17): rendered with GitHub's
own renderer (cmark-gfm, through ``cmarkgfm``), every table row has the header's cells and every case id
is whole, verbatim, in its own cell, whatever characters it holds."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from robustcheck.report import format_markdown, summary_columns

cmarkgfm = pytest.importorskip("cmarkgfm")

#: ids with every character that means something to GFM in a table cell or a code span
ODD_IDS = [
    "ae-kl|fgsm|eps=0.1|grey-box",
    "ae-kl|pgd-linf|eps=0.3|white-box",
    "magnet|cw-l2|eps=0.5|family=cw|grey-box",
    "star*def|fgsm|eps=*0.1*|grey-box",
    "_under_|pgd_linf|eps=0.1|__grey__",
    "<script>alert(1)</script>|fgsm|eps=<0.1>|grey-box",
    "tick`def|fg``sm|eps=0.1|grey-box",
    "`edge|fgsm|eps=0.1|`",
    "back\\slash|pipe\\|x|eps=0.1|grey-box",
    "amp&amp;|~~strike~~|[link](http://x)|$math$|#7|:+1:",
    "  spaced  |fgsm|eps=0.1|grey-box ",
    "trailing backslash\\",
]


def _case(suite: str, case: str, i: int) -> dict:
    """A case record as robustcheck.session.case_record writes it."""
    passed = i % 3 != 1
    status = "passed" if passed else "failed"
    if i % 5 == 4:
        status = "inconclusive-allowed" if passed else "inconclusive"
    metrics = {
        "clean_accuracy": 0.98,
        "defended_clean_accuracy": 0.97,
        "corrected_accuracy": 0.5 + i / 100,
        "detection_auc": None if i % 2 else 0.9,
        "defended_rate": 0.8,
        "attack_success_rate": 0.4,
    }
    if "|family=" in case:  # a family row shows its worst-case metrics in those columns
        metrics["worst_case_corrected_accuracy"] = metrics["corrected_accuracy"]
    deltas = {
        "corrected_accuracy": {
            "before": 0.9,
            "after": metrics["corrected_accuracy"],
            "delta": metrics["corrected_accuracy"] - 0.9,
            "tolerance": "0.02",
            "higher_is_better": True,
            "regressed": not passed,
        }
    }
    return {
        "suite": suite,
        "case": case,
        "nodeid": f"suites/x.py::{suite}[{case}]",
        "seed": 0,
        "metrics": metrics,
        "bars": {},
        "outcome": "passed" if passed else "FAILED",
        "status": status,
        "inconclusive": {},
        "inconclusive_allowed": ["shattered_gradients"] if status == "inconclusive-allowed" else [],
        "failures": []
        if passed
        else [f"corrected_accuracy {metrics['corrected_accuracy']:.3f} < 0.6 | *bar*"],
        "compared_with": "baseline robustcheck-baseline.json",
        "deltas": deltas,
        "regressions": [] if passed else ["corrected_accuracy: before 0.9000, after 0.5100\nsecond line"],
        "indicators": {},
    }


def _record() -> dict:
    suites = {
        "digits|release": {c: _case("digits|release", c, i) for i, c in enumerate(ODD_IDS)},
        "mnist_default": {c: _case("mnist_default", c, i) for i, c in enumerate(ODD_IDS[:3])},
    }
    return {
        "schema": 2,
        "started": "2026-01-01T00:00:00+00:00",
        "scale": "smoke",
        "seed_override": None,
        "device": "cpu",
        "git": {"commit": "0123456789abcdef", "branch": "main", "dirty": False},
        "compared_with": "baseline robustcheck-baseline.json",
        "suites": suites,
    }


class _Html(HTMLParser):
    """Tables (rows of cell texts; ``<br>`` read as a newline), headings and list items of rendered HTML."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: list[list[list[str]]] = []
        self.headings: list[str] = []
        self.items: list[str] = []
        self._text: list[str] | None = None
        self._where = ""

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th", "h2", "h3", "li"):
            self._text, self._where = [], tag
        elif tag == "br" and self._text is not None:
            self._text.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag != self._where or self._text is None:
            return
        text = "".join(self._text)
        if tag in ("td", "th"):
            self.tables[-1][-1].append(text)
        elif tag == "li":
            self.items.append(text)
        else:
            self.headings.append(text)
        self._text = None

    def handle_data(self, data: str) -> None:
        if self._text is not None:
            self._text.append(data)


def _render(md: str, unsafe: bool = False) -> _Html:
    # GitHub renders with cmark-gfm and sanitizes the raw HTML it allows (<br> among it) afterwards;
    # without CMARK_OPT_UNSAFE cmark-gfm drops raw HTML altogether
    options = cmarkgfm.cmark.Options.CMARK_OPT_UNSAFE if unsafe else 0
    parser = _Html()
    parser.feed(cmarkgfm.github_flavored_markdown_to_html(md, options=options))
    return parser


@pytest.mark.parametrize("unsafe", [False, True], ids=["safe", "github"])
def test_summary_tables_render_with_every_case_id_whole(unsafe):
    record = _record()
    html = _render(format_markdown(record, ["corrected_accuracy", "detection_auc"]), unsafe)
    header = ["case", *(h for _, h in summary_columns()), "Δ vs baseline", "result"]
    assert len(html.tables) == len(record["suites"])
    for table, cases in zip(html.tables, record["suites"].values(), strict=True):
        assert table[0] == header
        body = table[1:]
        assert len(body) == len(cases)
        for row, (case, r) in zip(body, cases.items(), strict=True):
            assert len(row) == len(header), row
            assert row[0] == case  # verbatim, in the first cell
            assert row[header.index("corrected")] == f"{r['metrics']['corrected_accuracy']:.3f}"
            assert row[header.index("AUC")] == ("n/a" if r["metrics"]["detection_auc"] is None else "0.900")
            assert row[-1].split(" ", 1)[1] in (
                "passed",
                "failed",
                "inconclusive",
                "passed (inconclusive allowed: shattered_gradients)",
            )
            assert row[-2].startswith("corrected ") and row[-2].endswith("!") == (r["outcome"] != "passed")
    assert html.headings[1:3] == list(record["suites"])  # suite names are escaped in headings too
    assert html.headings[0] == "robustcheck: 10 passed, 5 failed"


def test_failures_list_names_each_case_whole():
    record = _record()
    html = _render(format_markdown(record, []), unsafe=True)
    assert html.headings[-1] == "Failures"
    failed = [r for s in record["suites"].values() for r in s.values() if r["outcome"] != "passed"]
    expected = []
    for r in failed:
        where = f"{r['suite']}[{r['case']}]"
        expected += [f"{where}: {m}" for m in r["failures"]]
        expected += [f"{where}: regression: {m}" for m in r["regressions"]]
    assert html.items == expected


def test_escaping_is_minimal_for_plain_ids():
    """Plain ids and identifiers stay readable in the Markdown source (a PR comment is read raw too)."""
    md = format_markdown(_record(), [])
    assert r"| `ae-kl\|fgsm\|eps=0.1\|grey-box` |" in md
    assert "### mnist_default" in md and "inconclusive allowed: shattered_gradients" in md


def test_family_rows_show_the_worst_case_metrics():
    """Found 2026-11-27 (an outside audit): the Markdown summary showed n/a in the corrected and defended
    columns of every family row, where the terminal, text and HTML tables show the worst-case values."""
    case = "none|family=linf|eps=0.1|grey-box"
    record = {
        "suites": {
            "s": {
                case: {
                    "case": case,
                    "metrics": {"worst_case_corrected_accuracy": 0.396, "worst_case_defended_rate": 0.75},
                    "outcome": "passed",
                    "status": "passed",
                }
            }
        }
    }
    html = _render(format_markdown(record, []))
    header, row = html.tables[0][0], html.tables[0][1]
    assert row[header.index("corrected")] == "0.396"
    assert "0.750" in row
