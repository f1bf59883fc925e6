"""``robustcheck trend``, ``history`` and ``compare``'s exit codes on tiny synthetic run records (issue 17):
three runs with a weakened defence in the middle."""

from __future__ import annotations

import pytest

from robustcheck import history
from robustcheck.cli import main

CASES = ["ae-kl|fgsm|eps=0.1|grey-box", "ae-kl|fgsm|eps=0.3|grey-box", "none|fgsm|eps=0.1|grey-box"]


def _case(suite: str, case: str, corrected: float, asr: float, status: str = "passed") -> dict:
    return {
        "suite": suite,
        "case": case,
        "outcome": "passed" if status in ("passed", "inconclusive-allowed") else "FAILED",
        "status": status,
        "failures": [] if status == "passed" else ["corrected_accuracy below its bar"],
        "metrics": {
            "corrected_accuracy": corrected,
            "attack_success_rate": asr,
            "detection_auc": 0.95 if case.startswith("ae-kl") else None,
        },
    }


def _run(weak: bool, started: str, *, commit: str = "c0ffee1234567890", suites: tuple = ("digits",)) -> dict:
    """A run record as the plugin writes it; ``weak``: the ae-kl defence was weakened (its corrected accuracy
    falls, the attack succeeds more often: a lower-is-better metric rising)."""
    out: dict = {}
    for suite in suites:
        ae = 0.40 if weak else 0.85
        out[suite] = {
            CASES[0]: _case(suite, CASES[0], ae, 0.9 if weak else 0.3, "failed" if weak else "passed"),
            CASES[1]: _case(suite, CASES[1], ae / 2, 0.95, "inconclusive" if weak else "passed"),
            CASES[2]: _case(suite, CASES[2], 0.05, 0.97),
        }
    return {
        "schema": 2,
        "started": started,
        "scale": "smoke",
        "seed_override": None,
        "seeds": dict.fromkeys(suites, 1234),
        "device": "cpu",
        "git": {"commit": commit, "dirty": False},
        "compared_with": None,
        "suites": out,
    }


@pytest.fixture
def results(tmp_path):
    """Runs 1 (good), 2 (weakened ae-kl), 3 (fixed again)."""
    folder = tmp_path / "results"
    for i, weak in enumerate((False, True, False)):
        history.save_run(folder, _run(weak, f"2026-0{i + 1}-15T10:00:00+00:00", commit=f"{i}" * 12))
    return folder


def _table(out: str) -> dict[str, list[str]]:
    """Case id -> cells of a trend table (columns split on runs of 2+ spaces)."""
    import re

    rows = {}
    for line in out.splitlines():
        cells = re.split(r"\s{2,}", line.strip())
        if cells[0] in CASES:
            rows[cells[0]] = cells[1:]
    return rows


def test_trend_shows_the_drop_and_marks_it(results, capsys):
    assert main(["trend", "--results-dir", str(results)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "corrected_accuracy (higher is better) over runs, suite digits"
    header = out.splitlines()[1].split()
    assert header == ["case", "#1", "2026-01-15", "#2", "2026-02-15", "#3", "2026-03-15"]
    rows = _table(out)
    assert rows[CASES[0]] == ["0.8500", "0.4000 ↓!", "0.8500 ↑"]  # the drop is marked, the recovery shown
    assert rows[CASES[1]] == ["0.4250", "0.2000 ↓!", "0.4250 ↑"]
    assert rows[CASES[2]] == ["0.0500", "0.0500", "0.0500"]  # untouched: no marker
    assert "tolerance 0.02" in out and "2 value(s) worse than the run before beyond tolerance:" in out
    assert f"  digits[{CASES[0]}] in run #2 2026-02-15" in out


def test_trend_lower_is_better_metric_options(results, capsys):
    # attack_success_rate: lower is better, so its rise in run 2 is the worsening; --case and --last
    args = ["trend", "--results-dir", str(results), "--metric", "attack_success_rate"]
    assert main([*args, "--case", "ae-kl|*|eps=0.1|*", "--tolerance", "0.05"]) == 0
    out = capsys.readouterr().out
    assert "(lower is better)" in out and "tolerance 0.05" in out
    assert _table(out) == {CASES[0]: ["0.3000", "0.9000 ↑!", "0.3000 ↓"]}
    assert main([*args, "--last", "2"]) == 0
    out = capsys.readouterr().out
    assert "#1" not in out and _table(out)[CASES[0]] == ["0.9000", "0.3000 ↓"]
    assert "worse than the run before beyond tolerance" not in out  # an improvement only


def test_trend_several_suites_missing_runs_and_errors(tmp_path, capsys):
    folder = tmp_path / "r"
    history.save_run(folder, _run(False, "2026-01-01T00:00:00", suites=("a",)))
    history.save_run(folder, _run(True, "2026-01-02T00:00:00", suites=("a", "b")))
    (folder / "0003_broken.json").write_text("{")  # an unreadable record is skipped, with a line on stderr
    assert main(["trend", "--results-dir", str(folder), "--case", CASES[0]]) == 0
    captured = capsys.readouterr()
    assert "skipped 0003_broken.json" in captured.err
    lines = captured.out.splitlines()
    assert lines[0].endswith("suites a, b") and lines[1].split()[:2] == ["suite", "case"]
    assert lines[3].split() == ["a", CASES[0], "0.8500", "0.4000", "↓!"]
    assert lines[4].split() == ["b", CASES[0], "-", "0.4000"]  # not in run 1: "-", nothing to compare with
    # errors are exit 2 with one line
    for bad, message in (
        (["--metric", "accuracy"], "unknown metric 'accuracy'"),
        (["--case", "nothing*"], "matches case nothing*"),
        (["--suite", "zzz"], "matches suite zzz"),
        (["--last", "0"], "--last must be at least 1"),
        (["--tolerance", "x"], "is not a number"),
    ):
        assert main(["trend", "--results-dir", str(folder), *bad]) == 2, bad
        assert message in capsys.readouterr().err
    assert main(["trend", "--results-dir", str(tmp_path / "none")]) == 0
    assert "no saved runs" in capsys.readouterr().out


def test_trend_value_lost_is_worse(tmp_path, capsys):
    """A number that became NaN (stored as null) is a worsening, as in compare; a metric a case never had
    (no detector: no AUC) is just n/a."""
    folder = tmp_path / "r"
    history.save_run(folder, _run(False, "2026-01-01T00:00:00"))
    lost = _run(False, "2026-01-02T00:00:00")
    lost["suites"]["digits"][CASES[0]]["metrics"]["detection_auc"] = None
    history.save_run(folder, lost)
    assert main(["trend", "--results-dir", str(folder), "--metric", "detection_auc"]) == 0
    rows = _table(capsys.readouterr().out)
    assert rows[CASES[0]] == ["0.9500", "n/a !"]
    assert rows[CASES[1]] == ["0.9500", "0.9500"] and rows[CASES[2]] == ["n/a", "n/a"]


def test_trend_png(results, tmp_path, capsys):
    mpimg = pytest.importorskip("matplotlib.image")
    png = tmp_path / "out" / "trend.png"
    assert main(["trend", "--results-dir", str(results), "--png", str(png)]) == 0
    assert f"trend chart: {png}" in capsys.readouterr().out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    img = mpimg.imread(png)
    assert img.ndim == 3 and img.shape[0] > 200 and img.shape[1] > 300 and img.std() > 0
    # the worsened points are ringed in pure red
    red = (img[..., 0] > 0.9) & (img[..., 1] < 0.1) & (img[..., 2] < 0.1)
    assert red.sum() > 50


def test_trend_png_without_matplotlib_is_a_clear_error(results, tmp_path, capsys, monkeypatch):
    import sys

    for name in ("matplotlib.backends.backend_agg", "matplotlib.figure"):
        monkeypatch.setitem(sys.modules, name, None)  # import fails as if not installed
    assert main(["trend", "--results-dir", str(results), "--png", str(tmp_path / "t.png")]) == 2
    assert "plots need matplotlib: pip install 'pytest-robustcheck[plots]'" in capsys.readouterr().err
    assert not (tmp_path / "t.png").exists()


def test_history_columns(results, capsys):
    history.save_run(
        results.parent / "more",
        _run(False, "2026-04-01T00:00:00", suites=("a", "b")) | {"seed_override": 7, "git": None},
    )
    assert main(["history", "--results-dir", str(results)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:11] == [
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
    ]
    rows = [line.split() for line in lines[2:]]
    # run, started, suites, scale, seed, commit (10 characters), device, passed, failed, inconclusive,
    # compared with
    assert rows[0] == [
        "1",
        "2026-01-15T10:00:00",
        "digits",
        "smoke",
        "1234",
        "0" * 10,
        "cpu",
        "3",
        "0",
        "0",
        "-",
    ]
    assert rows[1][7:10] == ["1", "1", "1"]  # passed, failed, inconclusive of the weakened run
    assert main(["history", "--results-dir", str(results.parent / "more")]) == 0
    [row] = [line.split() for line in capsys.readouterr().out.splitlines()[2:]]
    assert row[2:6] == ["a,b", "smoke", "7", "-"]  # the seed override; no git: "-"


def test_compare_exit_codes(results, capsys):
    args = ["--results-dir", str(results)]
    # 1 -> 3: the same numbers: exit 0
    assert main(["compare", "1", "3", *args]) == 0
    assert "no regression beyond tolerance" in capsys.readouterr().out
    # 1 -> 2: the weakened defence regresses beyond the declared tolerances: exit 1 by default
    assert main(["compare", "1", "2", *args]) == 1
    out = capsys.readouterr().out
    assert "tolerances (the metrics' defaults): corrected_accuracy:0.02" in out
    assert "2 regression(s) beyond tolerance" in out and out.count("REGRESSED") == 2
    # the opt-out reports the same and exits 0
    assert main(["compare", "1", "2", *args, "--no-fail"]) == 0
    assert "2 regression(s) beyond tolerance (exit 0: --no-fail)" in capsys.readouterr().out
    # 2 -> 3 is an improvement; the attack success rate is lower-is-better: its fall is no regression
    assert main(["compare", "2", "3", *args, "--tolerances", "attack_success_rate:0.05", "--all"]) == 0
    # a tolerance wide enough: exit 0; a usage error: exit 2
    assert main(["compare", "1", "2", *args, "--fail", "corrected_accuracy:0.5"]) == 0
    assert main(["compare", "1", "9", *args]) == 2
    assert "no saved run number 9" in capsys.readouterr().err


def test_compare_help_documents_exit_codes(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["compare", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert (
        "exit codes:" in out and "1  at least one regression beyond tolerance" in out and "--no-fail" in out
    )
