"""Run history, baseline, compare / compare-fail, Markdown, plots and xdist — black-box through pytester
runs on a tiny suite whose custom defence is weakened between runs by an environment variable."""

from __future__ import annotations

import json
import os
import threading
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from robustcheck import history
from robustcheck.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
SUITE = '''
import os

import torch

from robustcheck.defences import BaseDefence
from robustcheck import Attack, Defence, Scale, Suite


WEAKEN = 0.0  # the test edits this line: a code change, which stored metrics must not survive


class Weakened(BaseDefence):
    """Confidence detector (S = -max softmax); a fraction WEAKEN of its defended labels is wrong."""

    name = "weakened"
    is_detector = True

    def score(self, x):
        return -torch.softmax(self.classifier(x), 1).amax(1)

    def predict(self, x):
        pred = self.classifier(x).argmax(1).clone()
        k = int(WEAKEN * pred.shape[0])
        pred[:k] = (pred[:k] + 1) % 10
        return pred


TINY = {s: Scale(n_samples=64, train_limit=2000, classifier_epochs=1, defence_epochs=1)
        for s in ("smoke", "default", "paper")}

SUITE = Suite(
    name="tiny",
    defences=["none", Defence(Weakened, id="weak")],
    attacks=[Attack("fgsm", eps=[0.05, 0.1])],
    scales=TINY,
)
'''
WEAK_CASES = {"weak|fgsm|eps=0.05|grey-box", "weak|fgsm|eps=0.1|grey-box"}


pytestmark = pytest.mark.usefixtures("_preimport_optimizer_modules")


@pytest.fixture
def args(pytester, cache_dir, monkeypatch):
    pytester.mkdir("mysuites")
    pytester.path.joinpath("mysuites", "tiny.py").write_text(SUITE)
    pytester.makeini("[pytest]\nrobustcheck_suite_files = mysuites/*.py\n")
    return ["--robustcheck", f"--robustcheck-cache-dir={cache_dir}", "-p", "no:cacheprovider"]


def _records(folder: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in history.list_runs(folder)]


# ---------------------------------------------------------------------------- plugin runs
def test_compare_with_a_saved_run_gates_on_the_default_tolerances(pytester, args):
    """Found 2026-11-27 (an outside audit): `--robustcheck-compare=RUN` had no tolerances, so it never failed
    an item, while `robustcheck compare` of the same two records gated on the metrics' defaults. Cases of the
    reference missing from a run are now named in the summary (not gated: -k and shards leave cases out)."""
    pytester.runpytest(*args).assert_outcomes(passed=4)
    suite_file = pytester.path / "mysuites" / "tiny.py"
    suite_file.write_text(suite_file.read_text().replace("WEAKEN = 0.0", "WEAKEN = 1.0"))
    weak = pytester.runpytest(*args, "--robustcheck-compare=1")
    weak.assert_outcomes(passed=2, failed=2)
    weak.stdout.fnmatch_lines(["*regressed against run 0001_*.json:*", "*tolerance 0.02 (higher is better)*"])
    part = pytester.runpytest(*args, "--robustcheck-compare=1", "-k", "none")
    part.assert_outcomes(passed=2, deselected=2)
    part.stdout.fnmatch_lines(
        ["*2 case(s) of the run 0001_*.json have no result in this run (dropped from the suite, deselected*"]
    )


def test_update_baseline_then_weakened_defence_fails_its_items(pytester, args, monkeypatch):
    first = pytester.runpytest(*args, "--robustcheck-update-baseline")
    first.assert_outcomes(passed=4)
    first.stdout.fnmatch_lines(["*baseline written to *robustcheck-baseline.json (commit it)*"])
    base = json.loads((pytester.path / "robustcheck-baseline.json").read_text())
    assert base["metrics"]["corrected_accuracy"]["direction"] == "higher"
    assert set(base["suites"]["tiny"]) >= WEAK_CASES
    before = base["suites"]["tiny"]["weak|fgsm|eps=0.1|grey-box"]["corrected_accuracy"]

    # unchanged defence: the comparison passes (same seed, same metrics) and shows Δ 0
    same = pytester.runpytest(*args, "--robustcheck-compare-fail=corrected_accuracy:1%")
    same.assert_outcomes(passed=4)
    same.stdout.fnmatch_lines(
        [
            "*vs baseline robustcheck-baseline.json*",
            "*Δ vs base*",
            "*weak|fgsm|eps=0.1|grey-box*corrected +0.000*passed*",
        ]
    )

    suite_file = pytester.path / "mysuites" / "tiny.py"  # the team edits its defence's code
    suite_file.write_text(suite_file.read_text().replace("WEAKEN = 0.0", "WEAKEN = 1.0"))
    weak = pytester.runpytest(*args, "--robustcheck-compare-fail=corrected_accuracy:0.02,detection_auc:0.01")
    weak.assert_outcomes(passed=2, failed=2)
    out = weak.stdout.str()
    assert "Traceback" not in out
    weak.stdout.fnmatch_lines(
        [
            (
                "*robustcheck case tiny[[]weak|fgsm|eps=0.1|grey-box[]] regressed against baseline "
                "robustcheck-baseline.json:*"
            ),
            f"*corrected_accuracy: before {before:.4f}, after 0.*, tolerance 0.02 (higher is better)*",
            "*reproduce: pytest --robustcheck*",
        ]
    )
    assert "detection_auc: before" not in out  # the detector itself did not get worse
    rec = _records(pytester.path / ".robustcheck" / "results")[-1]
    # which cases failed, from our run record (pytest's summary-line format is not ours to parse)
    failed = {c for c, r in rec["suites"]["tiny"].items() if r["outcome"] == "FAILED"}
    assert failed == set(WEAK_CASES)
    case = rec["suites"]["tiny"]["weak|fgsm|eps=0.1|grey-box"]
    assert case["outcome"] == "FAILED" and case["deltas"]["corrected_accuracy"]["regressed"] is True
    assert case["deltas"]["corrected_accuracy"]["delta"] < -0.02
    # the weakened defence is weaker, not broken: every integrity indicator computed for it stays quiet
    assert case["indicators"]["budget_violations"] == 0 and set(case["indicators"].values()) == {0.0}
    assert rec["compared_with"] == "baseline robustcheck-baseline.json"
    assert rec["packages"]["torch"] and rec["tolerances"] == {
        "corrected_accuracy": "0.02",
        "detection_auc": "0.01",
    }

    # the same regression against saved run 1 (percent form), then the baseline is rewritten
    vs_run = pytester.runpytest(
        *args, "--robustcheck-compare=1", "--robustcheck-compare-fail=corrected_accuracy:5%"
    )
    vs_run.assert_outcomes(passed=2, failed=2)
    vs_run.stdout.fnmatch_lines(["*regressed against run 0001_*.json:*", "*tolerance 5% (higher is better)*"])
    pytester.runpytest(*args, "--robustcheck-update-baseline").assert_outcomes(passed=4)
    base2 = json.loads((pytester.path / "robustcheck-baseline.json").read_text())
    assert base2["suites"]["tiny"]["weak|fgsm|eps=0.1|grey-box"]["corrected_accuracy"] < before - 0.02
    assert base2["metrics"] == base["metrics"]  # tolerances committed in the file are kept
    pytester.runpytest(*args, "--robustcheck-compare").assert_outcomes(passed=4)


def test_missing_baseline_says_how_to_create_one(pytester, args):
    result = pytester.runpytest(*args, "-k", "none and 0.05", "--robustcheck-compare")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            (
                "*no baseline at *robustcheck-baseline.json; create it from a run with "
                "`pytest --robustcheck --robustcheck-update-baseline` and commit the file*"
            )
        ]
    )


@pytest.mark.parametrize(
    "value, message",
    [
        ("corrected_accuracy:abc", "*tolerance 'abc' of 'corrected_accuracy' is not a number*"),
        ("accuracy:0.1", "*unknown metric 'accuracy'; known: *corrected_accuracy*"),
        ("detection_auc", "*'detection_auc' needs a tolerance, e.g. detection_auc:0.02 or detection_auc:1%*"),
        ("detection_auc:-1", "*tolerance of 'detection_auc' must be a finite number >= 0*"),
    ],
)
def test_compare_fail_validated(pytester, args, value, message):
    result = pytester.runpytest(*args, f"--robustcheck-compare-fail={value}")
    result.stderr.fnmatch_lines([message])
    assert result.ret == pytest.ExitCode.USAGE_ERROR


def test_compare_with_unknown_run_is_usage_error(pytester, args):
    result = pytester.runpytest(*args, "--robustcheck-compare=7")
    result.stderr.fnmatch_lines(["*no saved run number 7 in *results; saved: none*"])


def test_markdown_plots_and_leftover_tmp(pytester, args):
    results = pytester.path / ".robustcheck" / "results"
    results.mkdir(parents=True)
    (results / ".rc-killed.tmp").write_text('{"suites": {')  # a killed writer's leftover
    result = pytester.runpytest(*args, "--robustcheck-markdown=summary.md", "--robustcheck-report-dir=report")
    result.assert_outcomes(passed=4)
    [only] = history.list_runs(results)
    assert only.name.startswith("0001_") and only.with_suffix(".npz").exists()
    md = (pytester.path / "summary.md").read_text()
    assert md.startswith("## robustcheck: 4 passed, 0 failed")
    assert r"| `weak\|fgsm\|eps=0.1\|grey-box` |" in md and "no baseline comparison" in md
    mpimg = pytest.importorskip("matplotlib.image")
    pngs = sorted(p.name for p in (pytester.path / "report").iterdir())
    assert pngs == ["accuracy_tiny_fgsm.png", "roc_tiny_weak.png"]
    for name in pngs:
        blob = (pytester.path / "report" / name).read_bytes()
        assert blob[:8] == b"\x89PNG\r\n\x1a\n"
        img = mpimg.imread(pytester.path / "report" / name)
        assert img.ndim == 3 and img.shape[0] > 100 and img.shape[1] > 100 and img.std() > 0


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("--robustcheck-report=markdown=blocked/r.md", "*markdown report's folder */blocked cannot be used*"),
        ("--robustcheck-report-dir=blocked", "*plots folder */blocked cannot be used*"),
        ("--robustcheck-baseline=blocked/b.json", "*baseline's folder */blocked cannot be used*"),
        ("--robustcheck-report=markdown=adir", "*markdown report path */adir is a folder*"),
    ],
    ids=["report", "report-dir", "baseline", "report-is-a-folder"],
)
def test_unusable_output_paths_are_one_error_at_startup(pytester, args, option, message):
    """Found 2026-11-27 (an outside audit): a report, plots or baseline path that could not be written was
    found only after the whole evaluation, as a summary line, and the run exited 0 (green CI, no report)."""
    (pytester.path / "blocked").write_text("a file, not a folder")
    (pytester.path / "adir").mkdir()
    extra = ["--robustcheck-update-baseline"] if "baseline" in option else []
    result = pytester.runpytest(*args, "-k", "none and 0.05", option, *extra)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: {message}"])
    assert "Traceback" not in result.stdout.str() + result.stderr.str()


def test_a_baseline_never_mixes_scales(pytester, args):
    """Found 2026-11-27 (an outside audit): updating a smoke baseline from a default-scale run relabelled
    the whole file 'default' while the cases not rerun kept their smoke numbers, and a smoke run compared
    with a default-scale baseline without a word."""
    pytester.runpytest(*args, "--robustcheck-update-baseline").assert_outcomes(passed=4)
    base = pytester.path / "robustcheck-baseline.json"
    text = base.read_text()
    assert json.loads(text)["scale"] == "default"
    mixed = pytester.runpytest(
        *args, "--robustcheck-scale=smoke", "--robustcheck-update-baseline", "-k", "none"
    )
    assert mixed.ret == pytest.ExitCode.USAGE_ERROR
    mixed.stderr.fnmatch_lines(
        ["ERROR: the baseline */robustcheck-baseline.json holds results at scale 'default'*"]
    )
    assert base.read_text() == text
    compared = pytester.runpytest(*args, "--robustcheck-scale=smoke", "--robustcheck-compare")
    assert compared.ret == pytest.ExitCode.USAGE_ERROR
    compared.stderr.fnmatch_lines(
        ["ERROR: the baseline robustcheck-baseline.json holds results at scale 'default'*"]
    )
    run = history.load_run(history.list_runs(pytester.path / ".robustcheck" / "results")[0])
    with pytest.raises(ConfigError, match="holds results at scale 'default'"):
        history.write_baseline(base, run | {"scale": "smoke"}, source=None)
    assert base.read_text() == text


def test_unwritable_results_dir_is_one_error_at_startup(pytester, args):
    """Not a summary line after the work (issue 14): one usage error before any
    (tests/evaluation/test_faults.py)."""
    (pytester.path / "blocked").write_text("a file, not a folder")
    result = pytester.runpytest(*args, "-k", "none and 0.05", "--robustcheck-results-dir=blocked")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "ERROR: the robustcheck results folder */blocked cannot be used: it is a file, not a "
            "folder; remove or rename */blocked or point --robustcheck-results-dir at another folder"
        ]
    )
    assert "Traceback" not in result.stdout.str() + result.stderr.str()


def test_xdist_equals_serial_with_junit(pytester, args, tmp_path, monkeypatch):
    pytest.importorskip("xdist")
    serial = pytester.runpytest(*args, "--robustcheck-results-dir=serial")
    serial.assert_outcomes(passed=4)
    # a subprocess imports this worktree's robustcheck, and trains into a fresh cache under the file lock
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    fresh = [a for a in args if not a.startswith("--robustcheck-cache-dir")] + [
        f"--robustcheck-cache-dir={tmp_path / 'cache'}"
    ]
    par = pytester.runpytest_subprocess(
        *fresh, "-n", "2", "--dist", "loadgroup", "--junitxml=out.xml", "--robustcheck-results-dir=par"
    )
    par.assert_outcomes(passed=4)
    [s_rec] = _records(pytester.path / "serial")
    [p_rec] = _records(pytester.path / "par")  # exactly one record, written by the controller
    [p_path] = history.list_runs(pytester.path / "par")
    scores = history.load_scores(p_path)  # score arrays travelled from the workers with the reports
    assert scores["tiny/weak|fgsm|eps=0.1|grey-box/clean"].shape == (64,)
    for case, entry in s_rec["suites"]["tiny"].items():
        assert p_rec["suites"]["tiny"][case]["metrics"] == pytest.approx(entry["metrics"], nan_ok=True), case
    assert len(list((tmp_path / "cache" / "classifiers").glob("*.pt"))) == 1
    root = ET.parse(pytester.path / "out.xml").getroot()
    cases = list(root.iter("testcase"))
    assert len(cases) == 4
    for tc in cases:
        props = {p.get("name"): p.get("value") for p in tc.iter("property")}
        assert 0.0 <= float(props["corrected_accuracy"]) <= 1.0 and "robustcheck" in props


def test_a_metric_that_is_n_a_gives_no_nan_in_junit(pytester, args):
    """Found 2026-11-27 (an outside audit): a metric that could not be measured (the detection AUC with no
    successful x′) was written as a JUnit property ``value="nan"``, and the embedded record held a bare NaN
    (not strict JSON). At ε = 1e-4 FGSM fools nothing, so the detector's AUC is n/a."""
    suite_file = pytester.path / "mysuites" / "tiny.py"
    suite_file.write_text(suite_file.read_text().replace("eps=[0.05, 0.1]", "eps=[0.0001]"))
    pytester.runpytest(*args, "--junitxml=out.xml", "-k", "weak").assert_outcomes(passed=1, deselected=1)
    [tc] = list(ET.parse(pytester.path / "out.xml").getroot().iter("testcase"))
    props = {p.get("name"): p.get("value") for p in tc.iter("property")}
    record = json.loads(props["robustcheck"], parse_constant=lambda c: pytest.fail(f"non-strict JSON: {c}"))
    assert record["metrics"]["detection_auc"] is None and "detection_auc" not in props
    assert "nan" not in {str(v).lower() for v in props.values()}


# ---------------------------------------------------------------------------- library
def test_history_ordering_numbering_and_concurrent_writers(tmp_path):
    for i in range(3):
        history.save_run(tmp_path, {"suites": {}, "i": i})
    assert [history.load_run(p)["i"] for p in history.list_runs(tmp_path)] == [0, 1, 2]
    threads = [
        threading.Thread(target=history.save_run, args=(tmp_path, {"suites": {}, "t": t})) for t in range(6)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    numbers = [history.run_number(p) for p in history.list_runs(tmp_path)]
    assert numbers == list(range(1, 10))


def test_killed_writer_leaves_no_record(tmp_path, monkeypatch):
    history.save_run(tmp_path, {"suites": {}})

    def killed(fd):
        raise KeyboardInterrupt  # the process dies between write and fsync

    monkeypatch.setattr(os, "fsync", killed)
    with pytest.raises(KeyboardInterrupt):
        history.save_run(tmp_path, {"suites": {}})
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == [history.list_runs(tmp_path)[0].name]
    (tmp_path / ".rc-leftover.tmp").write_text("{")
    assert history.run_number(history.save_run(tmp_path, {"suites": {}})) == 2
    (tmp_path / "0003_truncated.json").write_text('{"suites": {"a"')
    with pytest.raises(ConfigError, match=r"0003_truncated.json is unreadable"):
        history.load_run(history.resolve_run("3", tmp_path))


def test_direction_comes_from_metrics_registry():
    tol = history.parse_tolerances("attack_success_rate:0.05,corrected_accuracy:10%")
    worse_asr, better_asr = (
        history.compare_metrics({"attack_success_rate": 0.5}, {"attack_success_rate": a}, tol)[0]
        for a in (0.6, 0.3)
    )
    assert worse_asr.regressed and not worse_asr.higher_is_better and not better_asr.regressed
    [d] = history.compare_metrics({"corrected_accuracy": 0.5}, {"corrected_accuracy": 0.44}, tol)
    assert d.regressed and "tolerance 10% (higher is better)" in d.describe()
    [ok] = history.compare_metrics({"corrected_accuracy": 0.5}, {"corrected_accuracy": 0.46}, tol)
    assert not ok.regressed
    [nan] = history.compare_metrics({"corrected_accuracy": 0.5}, {"corrected_accuracy": float("nan")}, tol)
    assert nan.regressed  # not measurable any more is a regression
    [untracked] = history.compare_metrics({"l2_mean": 1.0}, {"l2_mean": 9.0}, tol)
    assert not untracked.regressed and untracked.delta == 8.0


def test_bad_baseline_file(tmp_path):
    p = tmp_path / "b.json"
    p.write_text(json.dumps({"suites": {}, "metrics": {"corrected_accuracy": {"direction": "up"}}}))
    with pytest.raises(ConfigError, match="direction must be 'higher' or 'lower', got 'up'"):
        history.load_baseline(p)
    p.write_text("{not json")
    with pytest.raises(ConfigError, match=r"b.json is unreadable"):
        history.load_baseline(p)


@pytest.mark.parametrize("flags, env, expected", [(["-q"], {}, False), ([], {"CI": "true"}, False)])
def test_progress_bars_quiet_under_q_and_ci(pytester, args, monkeypatch, flags, env, expected):
    from robustcheck import progress

    for k, v in env.items():
        monkeypatch.setenv(k, v)
    pytester.makepyfile(
        test_progress=f"""
        from robustcheck import progress
        def test_it():
            assert progress.enabled() is {expected}
    """
    )
    before = progress.get_forced()
    pytester.runpytest(*flags, "-p", "no:cacheprovider", "test_progress.py").assert_outcomes(passed=1)
    assert progress.get_forced() == before  # restored at unconfigure
