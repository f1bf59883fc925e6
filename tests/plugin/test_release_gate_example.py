"""The release-gate example (examples/release-gate), laid out as a user's own repository, end to end
through pytest: its unit tests, its suite at smoke scale against its bars, the CI command (scale
default, compared with the committed baseline, Markdown summary, JUnit XML), a regression that fails
its item, the training script, and the GitHub Actions workflow's required steps."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "release-gate"
WORKFLOW = EXAMPLE / ".github" / "workflows" / "robustness.yml"
SUITE = "digits-release"
N_ITEMS = 3 + 24  # the example's unit tests + 3 defences × 2 attacks × 2 ε × 2 threat models


def _copy_example(pytester: pytest.Pytester) -> None:
    shutil.copytree(
        EXAMPLE,
        pytester.path,
        dirs_exist_ok=True,
        ignore=shutil.ignore_patterns(
            "__pycache__",
            ".robustcheck",
            ".pytest_cache",
            "robustcheck-report",
            "robustcheck-summary.md",
            "robustcheck-junit.xml",
        ),
    )


def _latest_record(path: Path) -> dict:
    return json.loads(max((path / ".robustcheck" / "results").glob("*.json")).read_text())


def test_release_gate_example_end_to_end(pytester, tmp_path_factory):
    _copy_example(pytester)
    cache = tmp_path_factory.mktemp("cache")
    common = ["--robustcheck", f"--robustcheck-cache-dir={cache}", "-p", "no:cacheprovider"]

    # 1. a quick local look: unit tests and the suite at smoke scale, against the smoke bars
    result = pytester.runpytest_subprocess(*common, "--robustcheck-scale=smoke")
    result.assert_outcomes(passed=N_ITEMS)
    result.stdout.fnmatch_lines([f"*robustcheck: {SUITE} (scale=smoke)*"])
    smoke = _latest_record(pytester.path)
    assert smoke["scale"] == "smoke"

    # 2. what CI runs: the scale of the committed baseline, compared with it, summary and JUnit XML
    baseline = json.loads((pytester.path / "robustcheck-baseline.json").read_text())
    result = pytester.runpytest_subprocess(
        *common,
        f"--robustcheck-scale={baseline['scale']}",
        "--robustcheck-compare",
        "--robustcheck-markdown=robustcheck-summary.md",
        "--junitxml=robustcheck-junit.xml",
    )
    result.assert_outcomes(passed=N_ITEMS)
    rec = _latest_record(pytester.path)
    assert rec["scale"] == baseline["scale"] and "baseline" in rec["compared_with"]
    cases = rec["suites"][SUITE]
    assert set(cases) == set(baseline["suites"][SUITE])
    for case in cases.values():
        assert case["status"] == "passed" and not case["regressions"] and case["deltas"]
        m = case["measured"]
        # the record names what was measured: the team's loader, model file and class, preprocessing
        assert m["dataset"]["id"] == "data.digits_splits" and m["dataset"]["input_shape"] == [1, 8, 8]
        assert m["dataset"]["sizes"] == {"train": 1248, "val": 181, "test": 368}
        assert m["dataset"]["num_classes"] == 10 and m["dataset"]["content_hash"]
        clf = m["classifier"]
        assert clf["id"].startswith("file:") and clf["id"].endswith(
            "artifacts/digits_cnn.pt, factory=model.DigitsCNN"
        )
        assert clf["normalize"] == [[0.3054], [0.3759]] and clf["weights"]
    assert cases["ae-kl|pgd-linf|eps=0.1|white-box"]["measured"]["defence"]["name"] == "ae-kl"
    squeeze = cases["squeeze-2bit|fgsm|eps=0.1|grey-box"]["measured"]["defence"]
    assert squeeze["name"] == "feature-squeezing" and squeeze["config"] == {"bits": 2, "median_size": None}
    summary = (pytester.path / "robustcheck-summary.md").read_text()
    assert f"### {SUITE}" in summary and "compared with baseline" in summary
    junit = (pytester.path / "robustcheck-junit.xml").read_text()
    assert junit.count("<testcase ") == N_ITEMS and 'failures="0"' in junit

    # 3. the gate bites: a baseline better than this run fails that item, and only that one
    worse = "ae-kl|pgd-linf|eps=0.1|white-box"
    baseline["suites"][SUITE][worse]["corrected_accuracy"] += 0.10
    (pytester.path / "robustcheck-baseline.json").write_text(json.dumps(baseline))
    result = pytester.runpytest_subprocess(
        "suites", *common, f"--robustcheck-scale={baseline['scale']}", "--robustcheck-compare"
    )
    result.assert_outcomes(passed=23, failed=1)
    result.stdout.fnmatch_lines(
        [f"*{SUITE}*{worse}*regressed against baseline*", "*corrected_accuracy: before*tolerance 0.03*"]
    )


def test_training_script_writes_the_model_it_reports(tmp_path):
    """train.py runs from anywhere, prints its test accuracy and writes a state dict of DigitsCNN."""
    out = tmp_path / "digits_cnn.pt"
    proc = subprocess.run(
        [sys.executable, str(EXAMPLE / "train.py"), "--out", str(out)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    acc = float(re.search(r"test accuracy: ([0-9.]+)", proc.stdout).group(1))
    assert acc >= 0.97, proc.stdout
    import torch

    state = torch.load(out, weights_only=True)
    committed = torch.load(EXAMPLE / "artifacts" / "digits_cnn.pt", weights_only=True)
    assert {k: v.shape for k, v in state.items()} == {k: v.shape for k, v in committed.items()}


def _workflow_text_checks(text: str) -> None:
    for needle in (
        "actions/checkout@",
        "actions/setup-python@",
        "--index-url https://download.pytorch.org/whl/cpu",
        "pip install -r requirements.txt",
        "actions/cache@",
        "path: .robustcheck/cache",
        "hashFiles(",
        "pytest --robustcheck",
        "--robustcheck-compare",
        "--junitxml=",
        "--robustcheck-markdown=",
        "$GITHUB_STEP_SUMMARY",
        "actions/upload-artifact@",
        "if: always()",
    ):
        assert needle in text, needle


def test_workflow_has_the_cache_gate_summary_and_upload_steps():
    text = WORKFLOW.read_text()
    _workflow_text_checks(text)
    baseline = json.loads((EXAMPLE / "robustcheck-baseline.json").read_text())
    try:
        import yaml  # type: ignore[import-untyped]
    except ImportError:  # a light text check only
        assert f"--robustcheck-scale={baseline['scale']}" in text
        return
    flow = yaml.safe_load(text)
    assert flow.get("on", flow.get(True))  # YAML 1.1 reads the key `on` as True
    (job,) = flow["jobs"].values()
    steps = job["steps"]
    uses = {s["uses"].split("@")[0]: s for s in steps if "uses" in s}
    assert {"actions/checkout", "actions/setup-python", "actions/cache", "actions/upload-artifact"} <= set(
        uses
    )
    cache = uses["actions/cache"]["with"]
    assert cache["path"] == ".robustcheck/cache"
    hashed = re.findall(r"'([^']+)'", re.search(r"hashFiles\(([^)]*)\)", cache["key"]).group(1))
    assert {"artifacts/digits_cnn.pt", "requirements.txt"} <= set(hashed) and any(
        h.startswith("suites/") for h in hashed
    )
    for pattern in hashed:  # every hashed path exists, or the key would silently ignore it
        assert list(EXAMPLE.glob(pattern)), pattern
    runs = [s.get("run", "") for s in steps]
    install = next(r for r in runs if "pip install" in r)
    assert install.index("download.pytorch.org/whl/cpu") < install.index("-r requirements.txt")
    gate = next(s for s in steps if "pytest --robustcheck" in s.get("run", ""))
    assert f"--robustcheck-scale={baseline['scale']}" in gate["run"]  # the scale the baseline was made at
    md = re.search(r"--robustcheck-markdown=(\S+)", gate["run"]).group(1)
    junit = re.search(r"--junitxml=(\S+)", gate["run"]).group(1)
    summary = next(s for s in steps if "GITHUB_STEP_SUMMARY" in s.get("run", ""))
    assert summary.get("if") == "always()" and md in summary["run"]
    upload = uses["actions/upload-artifact"]
    assert upload.get("if") == "always()"
    paths = upload["with"]["path"].split()
    assert junit in paths and any("robustcheck-report" in p for p in paths)
    assert re.search(r"--robustcheck-report-dir=robustcheck-report\b", gate["run"])
