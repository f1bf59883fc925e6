"""Bad options, ini values, suite files and baselines through real pytest runs (pytester): each run stops with
one clear message naming the field, never a traceback or an INTERNALERROR."""

from __future__ import annotations

import json

import pytest

GOOD_SUITE = """
from robustcheck import Attack, Suite
SUITE = Suite(name="tiny", defences=["none", "ae-kl"], attacks=[Attack("fgsm", eps=[0.1, 0.3])])
"""


def run(pytester, *args, ini="robustcheck_suite_files = mysuites/*.py", suite=GOOD_SUITE):
    pytester.path.joinpath("mysuites").mkdir(exist_ok=True)
    pytester.path.joinpath("mysuites", "tiny.py").write_text(suite)
    pytester.makeini(f"[pytest]\n{ini}\n")
    result = pytester.runpytest(*args, "-p", "no:cacheprovider")
    out = result.stdout.str() + "\n" + result.stderr.str()
    assert "Traceback" not in out and "INTERNALERROR" not in out, out
    return result, out


def assert_one_usage_error(result, out, *fragments):
    assert result.ret == pytest.ExitCode.USAGE_ERROR, out
    errors = [line for line in result.stderr.lines if line.startswith("ERROR:")]
    assert len(errors) == 1, out
    assert all(f in errors[0] for f in fragments), errors[0]


@pytest.mark.parametrize(
    "option, fragments",
    [
        ("--robustcheck-seed=-1", ("--robustcheck-seed", "0 <= seed < 2**63", "'-1'")),
        ("--robustcheck-seed=18446744073709551616", ("--robustcheck-seed", "18446744073709551616")),
        ("--robustcheck-seed=abc", ("--robustcheck-seed", "'abc'")),
        ("--robustcheck-device=gpu", ("--robustcheck-device", "'gpu'", "auto, cpu, cuda or cuda:N")),
        ("--robustcheck-scale=huge", ("--robustcheck-scale", "'huge'", "smoke, default, paper")),
        (
            "--robustcheck-compare-fail=corrected_accuracy:0.1,corrected_accuracy:0.2",
            ("compare-fail", "twice"),
        ),
    ],
)
def test_bad_option(pytester, option, fragments):
    result, out = run(pytester, "--robustcheck", option)
    assert_one_usage_error(result, out, *fragments)


def test_cuda_device_without_gpu(pytester):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    result, out = run(pytester, "--robustcheck", "--robustcheck-device=cuda:0")
    assert_one_usage_error(result, out, "--robustcheck-device=cuda:0", "CUDA is not available")


@pytest.mark.parametrize(
    "ini, fragments",
    [
        ("robustcheck = maybe", ("ini value robustcheck:", "'maybe'")),
        ("robustcheck_update_baseline = perhaps", ("robustcheck_update_baseline", "'perhaps'")),
        ("robustcheck_seed = 1.5", ("robustcheck_seed", "'1.5'")),
    ],
)
def test_bad_ini_value(pytester, ini, fragments):
    result, out = run(pytester, ini=f"robustcheck_suite_files = mysuites/*.py\n{ini}")
    assert_one_usage_error(result, out, *fragments)


def test_suite_files_glob_matching_nothing(pytester):
    """An error with --robustcheck (a typo would collect nothing); without it nothing is evaluated anyway."""
    result, out = run(pytester, "--robustcheck", ini="robustcheck_suite_files = mysuite/*.py")
    assert_one_usage_error(result, out, "robustcheck_suite_files", "'mysuite/*.py'", "match no .py file")
    result, out = run(pytester, ini="robustcheck_suite_files = mysuite/*.py")
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED


@pytest.mark.parametrize(
    "body, fragments",
    [
        (
            (
                'Suite(name="s", attacks=[Attack("fgsm", eps=0.1)], '
                'thresholds=[Thresholds(defence="none", detection_auc=0.99)])'
            ),
            ("detection_auc does not apply", "detector"),
        ),
        (
            'Suite(name="s", attacks=[Attack("pgd-linf", eps=0.1, targeted="no")])',
            ("targeted must be True or False",),
        ),
        ('Suite(name="s", attacks=[])', ("attacks is empty",)),
        ('Suite(name="s", attacks=[Attack("fgsm", eps=0.1)], scales=None)', ("scales must map",)),
        (
            (
                'Suite(name="s", attacks=[Attack("fgsm", eps=0.1)], '
                "thresholds=[Thresholds(eps=[0.1, 0.3], corrected_accuracy=0.5)])"
            ),
            ("Thresholds.eps must be one number",),
        ),
        (
            'Suite(name="s", attacks=[Attack("fgsm", eps=0.1)], seed=2**64)',
            ("seed must be an int with 0 <= seed < 2**63",),
        ),
    ],
)
def test_bad_suite_file(pytester, body, fragments):
    suite = f"from robustcheck import Attack, Suite, Thresholds\nSUITE = {body}\n"
    result, out = run(pytester, "--robustcheck", suite=suite)
    assert result.ret == pytest.ExitCode.INTERRUPTED, out
    lines = [line for line in result.stdout.lines if line.startswith("robustcheck: ")]
    assert len(lines) == 1, out
    assert all(f in lines[0] for f in fragments), lines[0]


@pytest.mark.parametrize(
    "change, fragments",
    [
        ({"schema": 99}, ("schema 99 is not supported", "baseline schema 1")),
        ({"suites": {"tiny": [1, 2]}}, ("suites.tiny must be a mapping",)),
        (
            {"suites": {"tiny": {"none|fgsm|eps=0.1|grey-box": {"corrected_accuracy": "high"}}}},
            ("corrected_accuracy must be a finite number or null", "'high'"),
        ),
    ],
)
def test_bad_baseline(pytester, change, fragments):
    baseline = {"schema": 1, "metrics": {}, "suites": {"tiny": {}}, **change}
    pytester.path.joinpath("robustcheck-baseline.json").write_text(json.dumps(baseline))
    result, out = run(pytester, "--robustcheck", "--robustcheck-compare")
    assert_one_usage_error(result, out, "robustcheck-baseline.json", *fragments)
