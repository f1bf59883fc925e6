"""The plugin black-box, through pytester runs on a tiny synthetic suite."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

SUITE = """
from robustcheck import Attack, Scale, Suite, Thresholds

TINY = {{s: Scale(n_samples=32, train_limit=300, classifier_epochs=1, defence_epochs=1, attack_steps=3)
        for s in ("smoke", "default", "paper")}}

SUITE = Suite(
    name="tiny",
    defences=["none", "ae-kl"],
    attacks=[Attack("fgsm", eps=[0.1, 0.3])],
    threat_models=["grey-box"],
    scales=TINY,
    thresholds=[{thresholds}],
)
"""


pytestmark = pytest.mark.usefixtures("_preimport_optimizer_modules")


@pytest.fixture
def make_suite(pytester, cache_dir):
    def make(thresholds: str = "", ini: str = "") -> list[str]:
        # not "suites/": the project's own suites package is already imported in this process
        pytester.mkdir("mysuites")
        pytester.path.joinpath("mysuites", "tiny.py").write_text(SUITE.format(thresholds=thresholds))
        pytester.makeini(f"[pytest]\nrobustcheck_suite_files = mysuites/*.py\n{ini}")
        return [f"--robustcheck-cache-dir={cache_dir}", "-p", "no:cacheprovider"]

    return make


def test_skipped_without_flag(pytester, make_suite):
    args = make_suite()
    result = pytester.runpytest("-rs", *args)
    result.assert_outcomes(skipped=4)
    result.stdout.fnmatch_lines(["*run with --robustcheck*"])


def test_passes_prints_table_and_writes_record(pytester, make_suite):
    args = make_suite("Thresholds(corrected_accuracy=0.0)")
    result = pytester.runpytest("--robustcheck", "-v", *args)
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(
        [
            "*mysuites/tiny.py::tiny?none|fgsm|eps=0.1|grey-box? PASSED*",
            "*robustcheck: tiny (scale=default)*",
            "*ae-kl|fgsm|eps=0.3|grey-box*passed*",
            "*robustcheck run record:*",
        ]
    )
    records = list((pytester.path / ".robustcheck" / "results").glob("*.json"))
    assert len(records) == 1
    rec = json.loads(records[0].read_text())
    assert rec["scale"] == "default" and "torch" in rec["machine"] and "commit" in rec["git"]
    cases = rec["suites"]["tiny"]
    assert set(cases) == {
        "none|fgsm|eps=0.1|grey-box",
        "none|fgsm|eps=0.3|grey-box",
        "ae-kl|fgsm|eps=0.1|grey-box",
        "ae-kl|fgsm|eps=0.3|grey-box",
    }
    m = cases["ae-kl|fgsm|eps=0.3|grey-box"]["metrics"]
    assert 0.0 <= m["corrected_accuracy"] <= 1.0 and m["budget_violations"] == 0
    assert cases["none|fgsm|eps=0.3|grey-box"]["metrics"]["detection_auc"] is None


def test_threshold_miss_fails_that_item_with_message(pytester, make_suite):
    args = make_suite('Thresholds(defence="ae-kl", eps=0.3, corrected_accuracy=1.0)')
    result = pytester.runpytest("--robustcheck", *args)
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*robustcheck case tiny[[]ae-kl|fgsm|eps=0.3|grey-box[]] missed its bars:*",
            "*corrected_accuracy = 0.*, bar: corrected_accuracy >= 1*",
            (
                "*reproduce: pytest --robustcheck --robustcheck-scale=default "
                "'mysuites/tiny.py::tiny[[]ae-kl|fgsm|eps=0.3|grey-box[]]'*"
            ),
        ]
    )
    assert "Traceback" not in result.stdout.str()


def test_ids_stable_and_k_selects(pytester, make_suite):
    args = make_suite()
    first = pytester.runpytest("--collect-only", "-q", *args).stdout.lines
    second = pytester.runpytest("--collect-only", "-q", *args).stdout.lines
    ids = [line for line in first if "::" in line]
    assert ids == [line for line in second if "::" in line] and len(ids) == 4
    result = pytester.runpytest("--robustcheck", "-k", "ae-kl and fgsm", *args)
    result.assert_outcomes(passed=2, deselected=2)


def test_junit_has_metrics(pytester, make_suite):
    args = make_suite()
    pytester.runpytest("--robustcheck", "--junitxml=out.xml", "-k", "none", *args)
    root = ET.parse(pytester.path / "out.xml").getroot()
    props = {p.get("name"): p.get("value") for p in root.iter("property")}
    assert "corrected_accuracy" in props and "robustcheck" in props
    assert 0.0 <= float(props["clean_accuracy"]) <= 1.0


def test_bad_suite_is_one_line_collection_error(pytester, make_suite):
    args = make_suite()
    pytester.path.joinpath("mysuites", "tiny.py").write_text(
        "from robustcheck import Attack, Suite\n"
        "SUITE = Suite(name='bad', attacks=[Attack('pgd-l3', eps=0.1)])\n"
    )
    result = pytester.runpytest("--robustcheck", *args)
    result.stdout.fnmatch_lines(["*robustcheck: unknown attack 'pgd-l3'; known: *fgsm*"])
    assert "Traceback" not in result.stdout.str()
    assert result.ret == pytest.ExitCode.INTERRUPTED


def test_bad_option_value(pytester, make_suite):
    args = make_suite()
    result = pytester.runpytest("--robustcheck", "--robustcheck-scale=huge", *args)
    result.stderr.fnmatch_lines(["*--robustcheck-scale 'huge' unknown; known: smoke, default, paper*"])


def test_ini_twin(pytester, make_suite):
    args = make_suite(ini="robustcheck_scale = smoke\nrobustcheck_results_dir = out\n")
    result = pytester.runpytest("--robustcheck", "-k", "none and 0.1", *args)
    result.stdout.fnmatch_lines(["*robustcheck: tiny (scale=smoke)*"])
    assert list((pytester.path / "out").glob("*.json"))
    # command line beats ini
    result = pytester.runpytest("--robustcheck", "--robustcheck-scale=paper", "-k", "none and 0.1", *args)
    result.stdout.fnmatch_lines(["*robustcheck: tiny (scale=paper)*"])


def test_report_formats_are_written_by_name(pytester, make_suite):
    """``--robustcheck-report=FORMAT=PATH,...`` writes each registered format (robustcheck.report);
    a format registered by a conftest is one function, and an unknown one is a usage error naming the
    known formats."""
    args = make_suite(ini="robustcheck_scale = smoke\n")
    pytester.makeconftest(
        """
        from robustcheck.report import report_format

        @report_format("casecount", "number of cases per suite")
        def casecount(record, delta_metrics):
            return "".join(f"{s}: {len(c)}\\n" for s, c in record["suites"].items())
        """
    )
    result = pytester.runpytest_subprocess(
        "--robustcheck", "-k", "none and 0.1", "--robustcheck-report=text=out/t.txt,casecount=c.txt", *args
    )
    result.assert_outcomes(passed=1)
    text = (pytester.path / "out" / "t.txt").read_text()
    assert "robustcheck: tiny" in text and "none|fgsm|eps=0.1|grey-box" in text and "corrected" in text
    assert (pytester.path / "c.txt").read_text() == "tiny: 1\n"
    result.stdout.fnmatch_lines(["*robustcheck: casecount report: *c.txt*"])
    bad = pytester.runpytest_subprocess("--robustcheck", "--robustcheck-report=pdf=x.pdf", *args)
    bad.stderr.fnmatch_lines(["*unknown report format 'pdf'; known: casecount, html, markdown, text*"])
    assert bad.ret == pytest.ExitCode.USAGE_ERROR
