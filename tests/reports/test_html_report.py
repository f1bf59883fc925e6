"""The HTML report (issue 17, item 2): one self-contained page per run with the results tables (sortable),
ROC and accuracy-vs-ε charts, the raised flags with their explanations, the regressions against the
baseline, a gallery of the failing cases' inputs and a trend chart per case.

The page is parsed with :mod:`html.parser` (always), then opened in a real headless Chromium (skipped where
none is installed): a probe script appended to a copy of the page reports, after the page's own script
ran, what the browser shows: the rows' order after sorting by ``#sort=...`` and by a click, the images'
decoded sizes and boxes, the visible text of the flags and failing-cases sections."""

from __future__ import annotations

import base64
import html
import json
import os
import re
import shutil
import struct
import subprocess
import zlib
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from robustcheck import history
from robustcheck.html_report import as_hwc, image_kind, png_bytes, render, write_html
from robustcheck.metrics import METRICS
from robustcheck.report import REPORT_FORMATS, parse_reports

pytest.importorskip("matplotlib")

SUITE_A = "mnist-default"
SUITE_B = "odd <suite> & co"
DETECTOR = "ae-kl|pgd-linf|eps=0.1|grey-box"
FAILING = "ae-kl|pgd-linf|eps=0.3|grey-box"  # fails its bar and regressed: has gallery images
INCONCLUSIVE = "ae-kl|fgsm|eps=0.1|grey-box"  # shattered gradients: fails, no images stored
ODD = "<b>bold</b>|fgsm|eps=0.1|grey-box"
NO_VALUE = "none|fgsm|eps=0.1|grey-box"  # corrected accuracy not measured: n/a, sorts last
#: the rows of the results tables in the saved record's order (a saved record's keys are sorted)
RECORD_ORDER = [[INCONCLUSIVE, DETECTOR, FAILING], [ODD, NO_VALUE]]
SHATTERED_MESSAGE = "shattered_gradients: 42 % of the input gradients are zero <fix: use BPDA>"


def _case(suite, case, corrected, *, auc=None, outcome="passed", status="passed", **extra):
    metrics = {
        "clean_accuracy": 0.95,
        "defended_clean_accuracy": 0.93,
        "adversarial_accuracy": None if corrected is None else corrected - 0.05,
        "corrected_accuracy": corrected,
        "detection_auc": auc,
        "defended_rate": None if corrected is None else corrected + 0.02,
        "attack_success_rate": 0.2,
        "shattered_gradients": 0.0,
        "budget_violations": 0.0,
    }
    metrics.update(extra.pop("metrics", {}))
    return {
        "suite": suite,
        "case": case,
        "nodeid": f"suites/x.py::{suite}[{case}]",
        "seed": 0,
        "metrics": metrics,
        "bars": {"corrected_accuracy": "corrected_accuracy >= 0.6"},
        "outcome": outcome,
        "status": status,
        "inconclusive": {},
        "inconclusive_allowed": [],
        "failures": [],
        "compared_with": None,
        "deltas": {},
        "regressions": [],
        "indicators": {"shattered_gradients": metrics["shattered_gradients"]},
    } | extra


def _record(failing_corrected: float, *, compared: bool = False) -> dict:
    """A run record of two suites as robustcheck.session.run_record writes it."""
    ref = "baseline robustcheck-baseline.json" if compared else None
    regression = (
        "corrected_accuracy: before 0.8000, after 0.4200 (Δ -0.3800), tolerance 0.02 (higher is better)"
    )
    failing = _case(
        SUITE_A,
        FAILING,
        failing_corrected,
        outcome="FAILED" if failing_corrected < 0.6 else "passed",
        status="failed" if failing_corrected < 0.6 else "passed",
    )
    if failing_corrected < 0.6:
        failing["failures"] = [f"corrected_accuracy {failing_corrected:.3f} < 0.6 (bar)"]
    if compared:
        failing |= {
            "compared_with": ref,
            "deltas": {
                "corrected_accuracy": {
                    "before": 0.8,
                    "after": failing_corrected,
                    "delta": failing_corrected - 0.8,
                    "tolerance": "0.02",
                    "higher_is_better": True,
                    "regressed": True,
                }
            },
            "regressions": [regression],
        }
    inconclusive = _case(
        SUITE_A,
        INCONCLUSIVE,
        0.9,
        outcome="FAILED",
        status="inconclusive",
        metrics={"shattered_gradients": 1.0, "gradient_masking": 1.0},
        inconclusive={"shattered_gradients": SHATTERED_MESSAGE},
        failures=[f"INCONCLUSIVE: {SHATTERED_MESSAGE}"],
    )
    suites = {
        SUITE_A: {
            DETECTOR: _case(SUITE_A, DETECTOR, 0.81, auc=0.91),
            FAILING: failing,
            INCONCLUSIVE: inconclusive,
        },
        SUITE_B: {
            ODD: _case(SUITE_B, ODD, 0.95),
            NO_VALUE: _case(SUITE_B, NO_VALUE, None),
        },
    }
    return {
        "schema": history.SCHEMA,
        "started": "2026-11-26T18:35:11+00:00",
        "finished": "2026-11-26T18:37:32+00:00",
        "scale": "smoke",
        "seed_override": None,
        "seeds": {SUITE_A: 0, SUITE_B: 0},
        "device": "cpu",
        "machine": {"node": "ci", "python": "3.11", "torch": "2.14"},
        "packages": {},
        "git": {"commit": "abc123", "branch": "main", "dirty": False},
        "compared_with": ref,
        "tolerances": {"corrected_accuracy": "0.02"} if compared else {},
        "shard": None,
        "suites": suites,
    }


def _arrays() -> dict[str, np.ndarray]:
    """The companion arrays: detector scores, per-sample results and gallery images of the failing case."""
    rng = np.random.default_rng(0)
    n, g = 40, 4
    out = {
        f"{SUITE_A}/{DETECTOR}/clean": rng.normal(0, 1, n).astype(np.float32),
        f"{SUITE_A}/{DETECTOR}/adv": rng.normal(1.5, 1, n).astype(np.float32),
        f"{SUITE_A}/{DETECTOR}/successful": rng.random(n) < 0.5,
    }
    key = f"{SUITE_A}/{FAILING}/"
    x = np.zeros((g, 1, 28, 28), np.uint8)
    for i in range(g):
        x[i, 0, 6:22, 10 + i : 14 + i] = 255  # a bar per input
    out |= {
        key + "label": np.arange(n, dtype=np.int16) % 10,
        key + "defended_pred_clean": np.arange(n, dtype=np.int16) % 10,
        key + "defended_pred_adv": (np.arange(n, dtype=np.int16) + 3) % 10,
        key + "flagged": np.zeros(n, bool),
        key + "gallery_index": np.array([5, 7, 11, 12], np.int32),
        key + "gallery_clean": x,
        key + "gallery_adv": np.clip(x.astype(int) + rng.integers(0, 60, x.shape), 0, 255).astype(np.uint8),
        key + "gallery_purified": (x // 2).astype(np.uint8),
    }
    return out


@pytest.fixture(scope="module")
def saved_run(tmp_path_factory) -> Path:
    """Three saved runs in one results folder: the failing case's corrected accuracy 0.8, 0.8, then 0.42
    (the weakened defence), the last one compared with the baseline and with its companion arrays."""
    results = tmp_path_factory.mktemp("results")
    history.save_run(results, _record(0.8))
    history.save_run(results, _record(0.8))
    return history.save_run(results, _record(0.42, compared=True), _arrays())


@pytest.fixture(scope="module")
def page(saved_run, tmp_path_factory) -> Path:
    return write_html(saved_run, tmp_path_factory.mktemp("out") / "report.html")


# ---------------------------------------------------------------------------- the page as HTML
class _Page(HTMLParser):
    """Elements of interest: sections, tables (rows of cell texts), images, svgs, every src/href, text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.section: str | None = None
        self.tables: list[dict] = []
        self.cell: list[str] | None = None
        self.row: list[str] = []
        self.images: list[dict] = []
        self.links: list[str] = []
        self.svgs: list[str | None] = []
        self.text: dict[str, list[str]] = {}
        self.tags: list[tuple[str, str | None]] = []  # (tag, section) of every start tag
        self.meta: dict[str, str] = {}
        self.worse = 0

    def handle_starttag(self, tag, attrs):
        a = {k: v or "" for k, v in attrs}
        self.tags.append((tag, self.section))
        if tag == "section":
            self.section = a.get("id")
        elif tag == "table":
            self.tables.append({"section": self.section, "cls": a.get("class", ""), "head": [], "rows": []})
        elif tag == "tr" and self.tables:
            self.row = []
            self.tables[-1]["head" if "thead" in self.stack else "rows"].append(self.row)
        elif tag in ("td", "th"):
            self.cell = []
        elif tag == "img":
            self.images.append({"section": self.section, **a})
        elif tag == "svg":
            self.svgs.append(self.section)
        elif tag == "circle" and "worse" in a.get("class", ""):
            self.worse += 1
        elif tag == "meta" and "http-equiv" in a:
            self.meta[a["http-equiv"]] = a.get("content", "")
        for k in ("src", "href"):
            if k in a:
                self.links.append(a[k])
        if tag not in ("meta", "img", "br", "input", "rect", "circle", "polyline"):
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self.cell is not None:
            self.row.append(" ".join("".join(self.cell).split()))
            self.cell = None
        if tag == "section":
            self.section = None
        while self.stack and self.stack.pop() != tag:
            pass

    def handle_data(self, data):
        if self.cell is not None:
            self.cell.append(data)
        self.text.setdefault(self.section or "", []).append(data)

    def section_text(self, name: str) -> str:
        return " ".join(" ".join(self.text.get(name, [])).split())


def _parse(text: str) -> _Page:
    p = _Page()
    p.feed(text)
    p.close()
    return p


def _png_size(uri: str) -> tuple[int, int]:
    assert uri.startswith("data:image/png;base64,"), uri[:40]
    blob = base64.b64decode(uri.split(",", 1)[1], validate=True)
    assert blob[:8] == b"\x89PNG\r\n\x1a\n" and blob[12:16] == b"IHDR"
    return struct.unpack(">II", blob[16:24])


def test_html_is_a_report_format(tmp_path):
    assert "html" in REPORT_FORMATS
    assert parse_reports(f"html={tmp_path / 'r.html'}") == {"html": str(tmp_path / "r.html")}


def test_page_is_self_contained_and_escaped(page):
    text = page.read_text(encoding="utf-8")
    p = _parse(text)
    assert "default-src 'none'" in p.meta["Content-Security-Policy"]
    assert all(link.startswith(("data:image/png;base64,", "#")) for link in p.links), [
        link[:60] for link in p.links if not link.startswith(("data:", "#"))
    ]
    assert "<b>bold</b>" not in text and "&lt;b&gt;bold&lt;/b&gt;" in text
    assert ("b", "results") not in p.tags  # the case id's markup is text, not an element
    assert "<fix: use BPDA>" not in text
    assert "<script" not in text.split("<script>", 1)[1].split("</script>", 1)[1]  # one script only


def test_results_tables_have_one_row_per_case(page):
    p = _parse(page.read_text(encoding="utf-8"))
    tables = [t for t in p.tables if "results" in t["cls"]]
    assert len(tables) == 2
    a, b = tables
    assert a["head"][0][0].startswith("case") and "corrected" in a["head"][0]
    assert "Δ vs baseline" in a["head"][0] and a["head"][0][-1] == "result"
    assert [[r[0] for r in t["rows"]] for t in tables] == RECORD_ORDER
    col = a["head"][0].index("corrected")
    assert [r[col] for r in a["rows"]] == ["0.900", "0.810", "0.420"]
    assert [r[col] for r in b["rows"]] == ["0.950", "n/a"]
    assert [r[-1] for r in a["rows"]] == ["INCONCLUSIVE", "passed", "FAILED"]
    flags_col = a["head"][0].index("flags")
    assert a["rows"][0][flags_col].startswith("shattered")


def test_regressions_flags_and_failing_cases(page):
    p = _parse(page.read_text(encoding="utf-8"))
    regressions = [t for t in p.tables if "regressions" in t["cls"]]
    assert len(regressions) == 1 and len(regressions[0]["rows"]) == 1
    assert regressions[0]["rows"][0][:6] == [
        SUITE_A,
        FAILING,
        "corrected_accuracy",
        "0.800",
        "0.420",
        "-0.3800",
    ]
    assert "1 regression(s)" in p.section_text("regressions")
    flags = [t for t in p.tables if "flagtable" in t["cls"]]
    assert len(flags) == 1
    row = flags[0]["rows"][0]
    assert row[:4] == [SUITE_A, INCONCLUSIVE, METRICS["shattered_gradients"].flag, "shattered_gradients"]
    assert row[5] == SHATTERED_MESSAGE and "inconclusive" in row[4]
    failing = p.section_text("failing")
    assert "corrected_accuracy 0.420 < 0.6 (bar)" in failing and "regression: corrected_accuracy" in failing
    assert failing.count("no images stored for this case") == 1  # the inconclusive case's
    gallery = [t for t in p.tables if "gallery" in t["cls"]]
    assert len(gallery) == 1
    assert [r[0] for r in gallery[0]["rows"]] == ["clean x", "adversarial x′", "purified P(x′)"]
    assert gallery[0]["head"][0][1:] == ["input 5", "input 7", "input 11", "input 12"]
    assert gallery[0]["rows"][1][1] == "label 5 → 8"  # true label and the defended prediction on x′
    samples = [i for i in p.images if "sample" in i.get("class", "")]
    assert len(samples) == 12 and {_png_size(i["src"]) for i in samples} == {(28, 28)}


def test_charts_and_trends(page):
    p = _parse(page.read_text(encoding="utf-8"))
    roc = [i for i in p.images if i["section"] == "roc"]
    acc = [i for i in p.images if i["section"] == "accuracy"]
    assert len(roc) == 1 and "ae-kl" in roc[0]["alt"]
    assert len(acc) == 3  # one per suite and attack: pgd-linf and fgsm in suite A, fgsm in suite B
    for img in roc + acc:
        w, h = _png_size(img["src"])
        assert w > 200 and h > 150
    assert p.svgs.count("trends") == 5  # one chart per case
    assert p.worse >= 1  # the failing case worsened from run 2 to run 3
    trends = p.section_text("trends")
    assert "3 run(s), #1 2026-11-26 to #3 2026-11-26" in trends and "1 case(s) worsened in this run" in trends


def test_without_the_saved_record_each_section_says_what_is_missing():
    """``render`` of a record that was not saved (no results folder): no companion, no other runs."""
    p = _parse(render(_record(0.42, compared=True)))
    assert "No ROC curves" in p.section_text("roc")
    assert "No trends" in p.section_text("trends")
    assert "No images" in p.section_text("failing")
    assert [i for i in p.images if i["section"] == "accuracy"]  # from the record alone
    assert len([t for t in p.tables if "results" in t["cls"]]) == 2


def test_report_format_reads_the_saved_record_path(saved_run):
    """session.finish passes the saved record's path as ``_record_path``: gallery and trends appear."""
    record = history.load_run(saved_run) | {"_record_path": str(saved_run)}
    p = _parse(REPORT_FORMATS["html"].render(record, []))
    assert len([i for i in p.images if "sample" in i.get("class", "")]) == 12
    assert p.svgs.count("trends") == 5


def test_png_and_image_helpers():
    img = np.arange(12 * 7, dtype=np.uint8).reshape(12, 7)
    blob = png_bytes(img)
    assert struct.unpack(">II", blob[16:24]) == (7, 12)
    idat = blob[blob.index(b"IDAT") + 4 : blob.index(b"IEND") - 8]
    raw = zlib.decompress(idat)
    assert raw == b"".join(b"\x00" + row.tobytes() for row in img)
    assert [a.shape for a in as_hwc(np.zeros((2, 3, 5, 6), np.uint8))] == [(5, 6, 3)] * 2
    assert [a.shape for a in as_hwc(np.zeros((2, 5, 6)))] == [(5, 6)] * 2
    assert png_bytes(as_hwc(np.ones((1, 3, 4, 4)))[0])[25] == 2  # RGB colour type
    assert [image_kind(n) for n in ("gallery_clean", "adv_images", "purified_images", "gallery_index")] == [
        "clean",
        "adv",
        "purified",
        None,
    ]


# ---------------------------------------------------------------------------- in a real browser
_PROBE = """
<script>
window.addEventListener("load", function () {
  function firstColumn(t) {
    return Array.prototype.map.call(t.tBodies[0].rows, function (r) { return r.cells[0].textContent; });
  }
  var tables = document.querySelectorAll("table.results");
  var out = {
    sorted: Array.prototype.map.call(tables, firstColumn),
    ariaSort: Array.prototype.map.call(document.querySelectorAll("th[aria-sort]"), function (th) {
      return th.getAttribute("data-key") + ":" + th.getAttribute("aria-sort");
    }),
    images: Array.prototype.map.call(document.images, function (i) {
      var box = i.getBoundingClientRect();
      return {section: i.closest("section").id, w: i.naturalWidth, h: i.naturalHeight,
              shownW: box.width, shownH: box.height};
    }),
    svgs: Array.prototype.map.call(document.querySelectorAll("svg.trendchart"), function (s) {
      return s.getBoundingClientRect().width;
    }),
    flags: document.getElementById("flags").innerText,
    failing: document.getElementById("failing").innerText,
    title: document.title
  };
  var caseHeader = tables[1].tHead.rows[0].cells[0];
  caseHeader.click();
  out.afterClick = firstColumn(tables[1]);
  caseHeader.click();
  out.afterSecondClick = firstColumn(tables[1]);
  var pre = document.createElement("pre");
  pre.id = "rc-probe";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>
"""


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def _browser(args: list[str], url: str, tmp_path: Path) -> str:
    exe = _chromium()
    if exe is None:
        pytest.skip("no Chromium executable found (the browser checks need one)")
    cmd = [
        exe,
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-extensions",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
        "--virtual-time-budget=10000",
        *args,
        url,
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=180, check=False)
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout


def _probe(page: Path, tmp_path: Path, fragment: str) -> dict:
    probed = tmp_path / "probed.html"
    probed.write_text(
        page.read_text(encoding="utf-8").replace("</body>", _PROBE + "</body>"), encoding="utf-8"
    )
    dom = _browser(["--dump-dom"], probed.as_uri() + fragment, tmp_path)
    m = re.search(r'<pre id="rc-probe">(.*?)</pre>', dom, re.S)
    assert m, dom[-2000:]
    return json.loads(html.unescape(m.group(1)))


def test_in_chromium_sorting_by_address_and_by_click(page, tmp_path):
    desc = _probe(page, tmp_path, "#sort=-corrected_accuracy")
    assert desc["sorted"] == [[INCONCLUSIVE, DETECTOR, FAILING], [ODD, NO_VALUE]]
    assert desc["ariaSort"] == ["corrected_accuracy:descending"] * 2
    asc = _probe(page, tmp_path, "#sort=corrected_accuracy")
    assert asc["sorted"] == [[FAILING, DETECTOR, INCONCLUSIVE], [ODD, NO_VALUE]]  # n/a last both ways
    assert asc["afterClick"] == sorted([ODD, NO_VALUE], key=str.lower)  # click: the case column, A to Z
    assert asc["afterSecondClick"] == sorted([ODD, NO_VALUE], key=str.lower, reverse=True)
    plain = _probe(page, tmp_path, "")
    assert plain["sorted"] == RECORD_ORDER


def test_in_chromium_images_charts_and_flags_are_displayed(page, tmp_path):
    shown = _probe(page, tmp_path, "")
    assert shown["title"].startswith("robustcheck run #3")
    by_section: dict[str, list[dict]] = {}
    for img in shown["images"]:
        by_section.setdefault(img["section"], []).append(img)
    assert {k: len(v) for k, v in by_section.items()} == {"failing": 12, "roc": 1, "accuracy": 3}
    for img in shown["images"]:  # decoded by the browser and laid out with a size
        assert img["w"] > 0 and img["h"] > 0 and img["shownW"] > 0 and img["shownH"] > 0, img
    assert all(img["shownW"] >= 3 * img["w"] for img in by_section["failing"])  # 28 px shown enlarged
    assert len(shown["svgs"]) == 5 and all(w > 0 for w in shown["svgs"])
    assert SHATTERED_MESSAGE in shown["flags"]
    assert "no images stored for this case" in shown["failing"]
    assert "label 5 → 8" in shown["failing"]


def test_in_chromium_screenshot(page, tmp_path):
    shot = tmp_path / "report.png"
    _browser(
        ["--hide-scrollbars", f"--screenshot={shot}", "--window-size=1280,2000"], page.as_uri(), tmp_path
    )
    w, h = struct.unpack(">II", shot.read_bytes()[16:24])
    assert (w, h) == (1280, 2000)
    keep = os.environ.get("ROBUSTCHECK_HTML_SCREENSHOT")  # to look at it: a path to copy it to
    if keep:
        shutil.copyfile(shot, keep)


def test_session_finish_writes_the_html_report(tmp_path):
    """``--robustcheck-report=html=PATH``: the run's end writes the page (session.finish), next to the
    record it saves; the sections that need the saved record say what is missing when it is not passed."""
    from robustcheck.session import Options, RobustcheckSession

    target = tmp_path / "out" / "report.html"
    rc = RobustcheckSession(Options(enabled=True, results_dir=tmp_path / "results", reports={"html": target}))
    record = _record(0.42)
    arrays = _arrays()
    for cases in record["suites"].values():
        for case in cases.values():
            prefix = f"{case['suite']}/{case['case']}/"
            scores = {k[len(prefix) :]: v.tolist() for k, v in arrays.items() if k.startswith(prefix)}
            rc.add_record(
                dict(case), {k: v for k, v in scores.items() if k in ("clean", "adv", "successful")}
            )
    rc.finish(tmp_path)
    assert f"robustcheck: html report: {target}" in rc.messages, rc.messages
    p = _parse(target.read_text(encoding="utf-8"))
    assert [[r[0] for r in t["rows"]] for t in p.tables if "results" in t["cls"]] == [
        [DETECTOR, FAILING, INCONCLUSIVE],  # the session's order: as evaluated
        [ODD, NO_VALUE],
    ]
    assert rc.last_record_path is not None and rc.last_record_path.exists()
    roc = [i for i in p.images if i["section"] == "roc"]
    assert roc or "No ROC curves" in p.section_text("roc")
