"""The command-line tool: list, history, compare and plot, in process (main(argv)) and via python -m."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from robustcheck import history
from robustcheck.cli import main

ROOT = Path(__file__).resolve().parents[2]
SUITE = """
from robustcheck import Attack, Suite

SUITE = Suite(name="cli-tiny", defences=["none", "ae-kl"], attacks=[Attack("fgsm", eps=[0.1, 0.3])])
"""


def _record(corrected: float, asr: float, auc: float | None, outcome: str = "passed") -> dict:
    """A run record as the plugin writes it (two cases of one suite)."""

    def case(name: str, d_auc: float | None) -> dict:
        return {
            "suite": "s",
            "case": name,
            "outcome": outcome,
            "failures": [],
            "metrics": {"corrected_accuracy": corrected, "attack_success_rate": asr, "detection_auc": d_auc},
        }

    cases = {
        "ae-kl|fgsm|eps=0.1|grey-box": case("ae-kl|fgsm|eps=0.1|grey-box", auc),
        "ae-kl|fgsm|eps=0.3|grey-box": case("ae-kl|fgsm|eps=0.3|grey-box", auc),
    }
    cases["ae-kl|fgsm|eps=0.3|grey-box"]["metrics"]["corrected_accuracy"] = corrected / 2
    return {
        "schema": 2,
        "started": "2025-01-01T00:00:00",
        "scale": "smoke",
        "device": "cpu",
        "git": {"commit": "abcdef1234567", "dirty": True},
        "suites": {"s": cases},
    }


def test_list_attacks_and_defences(capsys):
    assert main(["list", "attacks"]) == 0
    out = capsys.readouterr().out
    assert "fgsm" in out and "pgd-linf" in out and "linf" in out
    assert main(["list", "defences"]) == 0
    out = capsys.readouterr().out
    assert "ae-kl" in out and "detector+purifier" in out


def test_list_suites_and_cases(tmp_path, capsys):
    (tmp_path / "mysuites").mkdir()
    (tmp_path / "mysuites" / "one.py").write_text(SUITE)
    assert main(["list", "suites", "--rootdir", str(tmp_path), "--suite-files", "mysuites/*.py"]) == 0
    out = capsys.readouterr().out
    assert "cli-tiny" in out and "mysuites/one.py" in out and " 4" in out
    assert main(["list", "cases", "--rootdir", str(tmp_path), "--suite-files", "mysuites/*.py"]) == 0
    lines = capsys.readouterr().out.split()
    assert lines[0] == "mysuites/one.py::cli-tiny[none|fgsm|eps=0.1|grey-box]" and len(lines) == 4


def test_list_bad_suite_is_one_error(tmp_path, capsys):
    (tmp_path / "suites").mkdir()
    (tmp_path / "suites" / "bad.py").write_text(
        "from robustcheck import Attack, Suite\nS = Suite(name='b', attacks=[Attack('nope', eps=0.1)])\n"
    )
    assert main(["list", "cases", "--rootdir", str(tmp_path)]) == 2
    assert "robustcheck: error: suites/bad.py: unknown attack 'nope'" in capsys.readouterr().err


def test_history_table_in_order(tmp_path, capsys):
    for c in (0.9, 0.8):
        history.save_run(tmp_path, _record(c, 0.2, 0.95))
    history.save_run(tmp_path, _record(0.7, 0.2, 0.95, outcome="FAILED"))
    (tmp_path / ".rc-x.tmp").write_text("{")
    (tmp_path / "0004_broken.json").write_text("{")
    assert main(["history", "--results-dir", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == [
        "run",
        "started",
        "(UTC)",
        "suites",
        "scale",
        "seed",
        "commit",
        "device",
        "passed",
        "failed",
        "inconclusive",
        "compared",
        "with",
    ]
    rows = [line.split() for line in lines[2:]]
    assert [r[0] for r in rows] == ["1", "2", "3", "4"]
    # run, started, suites, scale, seed (none recorded: -), commit, device, passed, failed, inconclusive
    assert rows[0][1:8] == ["2025-01-01T00:00:00", "s", "smoke", "-", "abcdef1234+dirty", "cpu", "2"]
    assert rows[0][8:11] == ["0", "0", "-"] and rows[2][7:10] == ["0", "2", "0"]
    assert "unreadable" in rows[3]


def test_compare_directions_and_exit_code(tmp_path, capsys):
    history.save_run(tmp_path, _record(0.80, 0.20, 0.95))
    history.save_run(tmp_path, _record(0.79, 0.30, 0.95))  # corrected -0.01 (within 0.02), ASR +0.10
    assert main(["compare", "1", "2", "--results-dir", str(tmp_path), "--all"]) == 0
    out = capsys.readouterr().out
    assert "-0.0100" in out and "+0.1000" in out and "lower" in out and "higher" in out
    code = main(
        [
            "compare",
            "1",
            "latest",
            "--results-dir",
            str(tmp_path),
            "--fail",
            "corrected_accuracy:0.02,attack_success_rate:0.05",
        ]
    )
    out = capsys.readouterr().out
    assert code == 1 and "2 regression(s) beyond tolerance" in out
    assert "tolerances (--fail): attack_success_rate:0.05, corrected_accuracy:0.02" in out
    rows = [line for line in out.splitlines() if line.startswith("s ")]
    asr_rows = [line for line in rows if "attack_success_rate" in line]
    assert len(asr_rows) == 2 and all("REGRESSED" in r for r in asr_rows)
    assert not any("REGRESSED" in line for line in rows if "corrected_accuracy" in line)
    # improving on a lower-is-better metric is not a regression
    assert (
        main(["compare", "2", "1", "--results-dir", str(tmp_path), "--fail", "attack_success_rate:0.05"]) == 0
    )


def test_compare_against_baseline(tmp_path, capsys):
    run = history.save_run(tmp_path, _record(0.80, 0.20, 0.95))
    base = tmp_path / "base.json"
    history.write_baseline(base, history.load_run(run), source=run.name)
    history.save_run(tmp_path, _record(0.70, 0.20, 0.95))
    code = main(["compare", "baseline", "latest", "--results-dir", str(tmp_path), "--baseline", str(base)])
    out = capsys.readouterr().out
    # the baseline's default tolerances gate: exit 1 (issue 17), unless --no-fail
    assert code == 1 and "A = baseline base.json" in out and out.count("REGRESSED") == 2
    assert "2 regression(s) beyond tolerance" in out
    args = ["compare", "baseline", "latest", "--results-dir", str(tmp_path), "--baseline", str(base)]
    assert main([*args, "--no-fail"]) == 0
    assert "2 regression(s) beyond tolerance (exit 0: --no-fail)" in capsys.readouterr().out


def test_compare_unknown_run(tmp_path, capsys):
    assert main(["compare", "1", "2", "--results-dir", str(tmp_path)]) == 2
    assert "no saved run number 1" in capsys.readouterr().err


def test_plot_writes_png(tmp_path, capsys):
    mpimg = pytest.importorskip("matplotlib.image")
    rng = np.random.default_rng(0)
    arrays = {}
    for case in ("ae-kl|fgsm|eps=0.1|grey-box", "ae-kl|fgsm|eps=0.3|grey-box"):
        arrays[f"s/{case}/clean"] = rng.normal(0, 1, 50).astype(np.float32)
        arrays[f"s/{case}/adv"] = rng.normal(2, 1, 50).astype(np.float32)
        arrays[f"s/{case}/successful"] = rng.random(50) < 0.5
    history.save_run(tmp_path, _record(0.8, 0.2, 0.9), arrays)
    assert main(["plot", "1", "--results-dir", str(tmp_path), "--out", str(tmp_path / "png")]) == 0
    files = sorted((tmp_path / "png").iterdir())
    assert [f.name for f in files] == ["accuracy_s_fgsm.png", "roc_s_ae-kl.png"]
    for f in files:
        assert f.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and mpimg.imread(f).shape[2] in (3, 4)


def test_roc_curve_matches_auc():
    import torch

    from robustcheck.metrics import roc_auc
    from robustcheck.plots import roc_curve

    rng = np.random.default_rng(1)
    neg, pos = rng.normal(0, 1, 200), rng.normal(1, 1, 150)
    fpr, tpr = roc_curve(neg, pos)
    assert np.all(np.diff(fpr) >= 0) and np.all(np.diff(tpr) >= 0)
    area = float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))
    assert area == pytest.approx(roc_auc(torch.tensor(neg), torch.tensor(pos)), abs=1e-9)


def test_python_dash_m(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "robustcheck", "history", "--results-dir", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0 and "no saved runs" in out.stdout


# --- found 2026-11-27 by an outside audit of the history path; each test fails without its fix -------------
def test_a_metric_that_became_n_a_is_a_regression_in_compare(tmp_path, capsys):
    """pytest failed such an item, while `robustcheck compare` said "no regression" and exited 0."""
    history.save_run(tmp_path, _record(0.80, 0.20, 0.95))
    history.save_run(tmp_path, _record(0.80, 0.20, None))  # detection AUC not measurable any more
    code = main(["compare", "1", "2", "--results-dir", str(tmp_path), "--fail", "detection_auc:0.02"])
    out = capsys.readouterr().out
    assert code == 1 and "2 regression(s) beyond tolerance" in out
    auc_rows = [line for line in out.splitlines() if "detection_auc" in line and line.startswith("s ")]
    assert len(auc_rows) == 2 and all("n/a" in r and "REGRESSED" in r for r in auc_rows)


def test_cases_missing_from_the_later_run_are_reported(tmp_path, capsys):
    history.save_run(tmp_path, _record(0.80, 0.20, 0.95))
    later = _record(0.80, 0.20, 0.95)
    del later["suites"]["s"]["ae-kl|fgsm|eps=0.3|grey-box"]
    history.save_run(tmp_path, later)
    assert main(["compare", "1", "2", "--results-dir", str(tmp_path)]) == 0  # shown, not gated
    out = capsys.readouterr().out
    assert "1 case(s) of A have no result in B" in out and "s[ae-kl|fgsm|eps=0.3|grey-box]" in out


def test_a_baseline_given_by_path_keeps_its_tolerances(tmp_path, capsys):
    run = history.save_run(tmp_path, _record(0.80, 0.20, 0.95))
    base = tmp_path / "base.json"
    history.write_baseline(base, history.load_run(run), source=run.name, tolerances={})
    data = history.load_baseline(base)
    assert data.tolerances  # the default tolerances, written into the file
    history.save_run(tmp_path, _record(0.70, 0.20, 0.95))
    code = main(["compare", str(base), "latest", "--results-dir", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 1 and "A = baseline base.json" in out and "tolerances (baseline base.json)" in out


def test_merge_refuses_records_that_disagree(tmp_path, capsys):
    a = history.save_run(tmp_path, _record(0.80, 0.20, 0.95) | {"seeds": {"s": 0}})
    b = history.save_run(tmp_path / "b", _record(0.80, 0.20, 0.95) | {"seeds": {"s": 5}})
    out_dir = tmp_path / "merged"
    assert main(["merge", str(a), str(b), "--results-dir", str(out_dir)]) == 2
    assert "suite 's' ran with seed 5 there and 0 in an earlier record" in capsys.readouterr().err
    c = history.save_run(tmp_path / "c", _record(0.80, 0.20, 0.95) | {"device": "cuda"})
    assert main(["merge", str(a), str(c), "--results-dir", str(out_dir)]) == 2
    assert "its device is 'cuda'" in capsys.readouterr().err
    assert main(["merge", str(a), str(a), "--results-dir", str(out_dir)]) == 2
    assert "given twice" in capsys.readouterr().err
    assert not out_dir.exists() or not list(out_dir.iterdir())


def test_an_unusable_output_path_is_one_error_not_a_traceback(tmp_path, capsys):
    a = history.save_run(tmp_path / "a", _record(0.80, 0.20, 0.95))
    b = history.save_run(tmp_path / "b", _record(0.80, 0.20, 0.95))
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    assert main(["merge", str(a), str(b), "--results-dir", str(blocker)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("robustcheck: error: ") and len(err.strip().splitlines()) == 1


def test_updating_a_malformed_baseline_is_one_error_and_leaves_it(tmp_path):
    from robustcheck.errors import ConfigError

    run = history.load_run(history.save_run(tmp_path, _record(0.80, 0.20, 0.95)))
    for text in (
        "[]",
        '{"suites": {}, "metrics": "x"}',
        '{"suites": {}, "metrics": {"corrected_accuracy": {"tolerance": "abc"}}}',
    ):
        base = tmp_path / "base.json"
        base.write_text(text)
        with pytest.raises(ConfigError, match=r"baseline .*base\.json"):
            history.write_baseline(base, run, source=None)
        assert base.read_text() == text


def test_a_tolerance_list_naming_no_metric_is_an_error():
    """Found 2026-11-27 (an outside audit): ``--robustcheck-compare-fail=,`` turned the comparison off."""
    from robustcheck.errors import ConfigError

    for text in (",", " , ,"):
        with pytest.raises(ConfigError, match="names no metric"):
            history.parse_tolerances(text)
    assert history.parse_tolerances(None) == {}
