"""The extension API: registration three ways, protocol checks, the evaluate fixture, hooks, the example."""

from __future__ import annotations

import shutil
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from robustcheck import ConfigError, Defence, Scale, register_defence
from robustcheck.api import build_case, evaluate
from robustcheck.defences import DEFENCES, BaseDefence
from robustcheck.defences.registry import check_defence_class
from robustcheck.engine import Engine
from robustcheck.errors import ModelContractError
from robustcheck.evaluate import evaluate as evaluate_case
from robustcheck.metrics import METRICS, register_metric
from robustcheck.registry import Registry

ROOT = Path(__file__).resolve().parents[2]
TINY = {
    s: Scale(n_samples=32, train_limit=300, classifier_epochs=1, defence_epochs=1, attack_steps=3)
    for s in ("smoke", "default", "paper")
}


class Squash(BaseDefence):
    name = "squash"
    is_purifier = True

    def purify(self, x):
        return x * 0.5 + 0.25


def test_decorator_registers_and_checks_protocol():
    try:
        register_defence("test-squash")(Squash)
        assert DEFENCES.get("test-squash") is Squash
        with pytest.raises(ConfigError, match="already registered"):
            register_defence("test-squash")(type("Other", (Squash,), {}))
    finally:
        DEFENCES.unregister("test-squash")


@pytest.mark.parametrize(
    "attrs, msg",
    [
        ({"is_detector": True}, "declares is_detector = True but does not implement score"),
        ({"is_purifier": True}, "declares is_purifier = True but does not implement purify"),
        ({"trainable": True, "is_purifier": True, "purify": lambda self, x: x}, "does not implement fit"),
        ({}, "declares neither is_detector nor is_purifier"),
    ],
)
def test_missing_required_method_is_rejected_at_registration(attrs, msg):
    bad = type("Bad", (BaseDefence,), attrs)
    with pytest.raises(ConfigError, match=msg):
        register_defence("test-bad")(bad)
    assert "test-bad" not in DEFENCES


def test_non_defence_class_rejected():
    with pytest.raises(ConfigError, match=r"must subclass robustcheck.defences.BaseDefence"):
        check_defence_class("x", int)


def test_entry_point_discovery(tmp_path, monkeypatch):
    pkg = tmp_path / "ep_defence_pkg.py"
    pkg.write_text(
        textwrap.dedent("""
        from robustcheck.defences import BaseDefence
        class Halve(BaseDefence):
            name = "halve"
            is_purifier = True
            def purify(self, x):
                return x / 2
    """)
    )
    dist = tmp_path / "ep_defence_pkg-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: ep-defence-pkg\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[robustcheck.defences]\nhalve = ep_defence_pkg:Halve\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    reg = Registry("defence", entry_point_group="robustcheck.defences", validator=check_defence_class)
    assert "halve" in reg.list()
    assert reg.get("halve").__name__ == "Halve"
    # a broken entry point gives one clear error naming it
    (dist / "entry_points.txt").write_text("[robustcheck.defences]\nbroken = ep_defence_pkg:Missing\n")
    reg2 = Registry("defence", entry_point_group="robustcheck.defences", validator=check_defence_class)
    with pytest.raises(
        ConfigError, match="defence 'broken': cannot load entry point 'ep_defence_pkg:Missing'"
    ):
        reg2.list()
    sys.modules.pop("ep_defence_pkg", None)


def test_instance_and_factory_in_a_suite(tmp_path):
    engine = Engine(device="cpu", scale="smoke", cache_dir=str(tmp_path))
    inst = Squash()
    for d in (Defence(inst, id="inst"), Defence(Squash, id="cls"), Defence(lambda: Squash(), id="fn")):
        m = evaluate_case(engine, build_case(d, "fgsm", eps=0.1, scales=TINY))
        assert 0.0 <= m.metrics["corrected_accuracy"] <= 1.0
    with pytest.raises(ConfigError, match="cannot be applied to an instance"):
        Defence(inst, strength=2)


def test_wrong_shape_dtype_and_nan_scores_are_caught(tmp_path):
    class FloatLabels(Squash):
        def predict(self, x):
            return torch.zeros(x.shape[0])

    class WrongShape(Squash):
        def predict(self, x):
            return torch.zeros(x.shape[0] + 1, dtype=torch.long)

    class NaNScore(BaseDefence):
        name = "nan-score"
        is_detector = True

        def score(self, x):
            return torch.full((x.shape[0],), float("nan")) if x.shape[0] < 100 else torch.rand(x.shape[0])

    engine = Engine(device="cpu", scale="smoke", cache_dir=str(tmp_path))
    for cls, msg in ((FloatLabels, "integer class labels"), (WrongShape, "shape"), (NaNScore, "NaN")):
        with pytest.raises(ModelContractError, match=msg):
            evaluate_case(engine, build_case(Defence(cls), "fgsm", eps=0.1, scales=TINY))


def test_evaluate_function_returns_metrics(tmp_path):
    m = evaluate(
        "none",
        "fgsm",
        eps=0.2,
        engine=Engine(device="cpu", scale="smoke", cache_dir=str(tmp_path)),
        scales=TINY,
        thresholds={"corrected_accuracy": 1.0},
    )
    assert m.corrected_accuracy == m["corrected_accuracy"] <= m.clean_accuracy
    assert m.failures and "corrected_accuracy" in m.failures[0]
    with pytest.raises(AttributeError, match="no metric 'accuracyy'"):
        _ = m.accuracyy


def test_register_metric_direction():
    register_metric("test_gap", higher_is_better=False, description="x")
    assert not METRICS["test_gap"].higher_is_better
    with pytest.raises(ValueError, match="already declared"):
        register_metric("test_gap", higher_is_better=True)
    del METRICS["test_gap"]


HOOK_CONFTEST = """
from robustcheck.metrics import register_metric

register_metric("robust_gap", higher_is_better=False, description="clean - corrected")

def pytest_robustcheck_modify_cases(config, suite, cases):
    cases[:] = [c for c in cases if c.eps != 0.3]

def pytest_robustcheck_metrics(config, case, metrics):
    metrics["robust_gap"] = metrics["clean_accuracy"] - metrics["corrected_accuracy"]

def pytest_robustcheck_machine_info(config, machine_info):
    machine_info["team"] = "vision"
"""

HOOK_SUITE = """
from robustcheck import Attack, Scale, Suite, Thresholds
TINY = {s: Scale(n_samples=32, train_limit=300, classifier_epochs=1, defence_epochs=1, attack_steps=3)
        for s in ("smoke", "default", "paper")}
SUITE = Suite(name="hooked", attacks=[Attack("fgsm", eps=[0.1, 0.3])], scales=TINY,
              thresholds=[Thresholds(robust_gap=-1.0)])
"""


def test_hooks_filter_cases_add_metrics_and_machine_info(pytester, tmp_path_factory):
    pytester.mkdir("mysuites")
    pytester.path.joinpath("mysuites", "hooked.py").write_text(HOOK_SUITE)
    pytester.makeconftest(HOOK_CONFTEST)
    pytester.makeini("[pytest]\nrobustcheck_suite_files = mysuites/*.py\n")
    cache = tmp_path_factory.mktemp("cache")
    result = pytester.runpytest("--robustcheck", f"--robustcheck-cache-dir={cache}", "-p", "no:cacheprovider")
    # eps=0.3 filtered out by the hook; the hook-made metric is gated (gap >= 0 > -1.0 fails the max bar)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*robust_gap = *, bar: robust_gap <= -1*"])
    import json

    [rec] = list((pytester.path / ".robustcheck" / "results").glob("*.json"))
    data = json.loads(rec.read_text())
    assert data["machine"]["team"] == "vision"
    assert list(data["suites"]["hooked"]) == ["none|fgsm|eps=0.1|grey-box"]
    del METRICS["robust_gap"]


def test_example_project_runs_at_smoke_scale(pytester, tmp_path_factory):
    """The worked example in examples/bitdepth: its unit tests, its suite and its fixture-based test."""
    shutil.copytree(ROOT / "examples" / "bitdepth", pytester.path, dirs_exist_ok=True)
    cache = tmp_path_factory.mktemp("cache")
    result = pytester.runpytest_subprocess(
        "--robustcheck",
        "--robustcheck-scale=smoke",
        f"--robustcheck-cache-dir={cache}",
        "-p",
        "no:cacheprovider",
    )
    result.assert_outcomes(passed=16)
    result.stdout.fnmatch_lines(["*robustcheck: bitdepth (scale=smoke)*"])
