"""Each metric is declared once, in :data:`robustcheck.metrics.METRICS` (issue 16 item 3): every metric the
code emits is declared there, the engine computes the base metrics by looping over the declarations, and the
results table, the flags, the default tolerances, the inconclusive indicators and the validation rules are
read from them (a metric declared later with ``register_metric`` shows up in each)."""

from __future__ import annotations

import ast
import json
import math
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from robustcheck import Attack, Scale, Suite, Thresholds, history, indicators, report, validation
from robustcheck.defences.base import BaseDefence
from robustcheck.engine import Engine
from robustcheck.errors import ConfigError
from robustcheck.metrics import METRICS, MetricInfo, inconclusive_fixes, register_metric
from tests.helpers import evaluate_suite

ROOT = Path(__file__).resolve().parents[2]
TINY = {
    s: Scale(n_samples=32, train_limit=300, classifier_epochs=1, defence_epochs=1, attack_steps=3)
    for s in ("smoke", "default", "paper")
}


# ---------------------------------------------------------------------------- every emitted metric, declared
class _Spread(BaseDefence):
    """A parameter-free detector (no training): the score is the mean distance of the pixels to 0.5."""

    name = "decl-spread"
    is_detector = True

    def score(self, x: torch.Tensor) -> torch.Tensor:
        return (x - 0.5).abs().flatten(1).mean(1)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """White-box cases of a plain model and a detector (the most metrics: white-box-only indicators), a
    detector-aware attack, a family, and a grey-box suite with the integrity checks off: every code path
    that emits metrics."""
    suite = Suite(
        name="decl",
        defences=["none", _Spread],
        attacks=[
            Attack("fgsm", eps=[0.1, 0.2]),
            Attack("pgd-linf", eps=0.2, steps=3),
            Attack("bim-recon", eps=0.2, steps=3),
        ],
        threat_models=["white-box"],
        families={"fam": ["fgsm", "pgd-linf"]},
        scales=TINY,
    )
    _, _, results, cache = evaluate_suite(tmp_path_factory.mktemp("rc-decl-cache"), suite)
    off = Suite(name="decl-off", attacks=[Attack("fgsm", eps=0.1)], scales=TINY, indicators=False)
    _, _, off_results, _ = evaluate_suite(cache, off)
    return {**results, **off_results}


def _member_metric(case, key: str) -> bool:
    """``corrected_accuracy_<member>``: a family case's accuracy per member attack (robustcheck.probes)."""
    members = {f"corrected_accuracy_{a.id}".replace("-", "_") for a in getattr(case, "members", ())}
    return key in members


def test_every_metric_any_case_emits_is_declared_and_in_its_range(run):
    emitted: set[str] = set()
    for case, result in run.values():
        for key, value in result.metrics.items():
            if _member_metric(case, key):
                continue
            assert key in METRICS, f"{case.id}: metric {key!r} is emitted but not declared in METRICS"
            emitted.add(key)
            if value is not None and not math.isnan(value):
                validation.check_metric_value(case.id, key, value, slack=1e-9)
    # and the other way round: every built-in declaration is emitted by some code path
    assert emitted == set(validation.BUILTIN_METRICS)


def test_cases_have_exactly_the_metrics_their_declarations_say(run):
    """metric_applies (read from the declarations) is True for every metric a case has a value for."""
    for case, result in run.values():
        for key, value in result.metrics.items():
            if value is not None and not _member_metric(case, key):
                assert validation.metric_applies(key, case), f"{case.id}: {key} measured but not applicable"


# ---------------------------------------------------------------------------- compute_metrics by hand
class _ByPixel(nn.Module):
    """Predicts the class whose centre (c + 0.5) / 4 is nearest to one pixel (4 classes)."""

    def __init__(self, pixel: int) -> None:
        super().__init__()
        self.pixel = pixel

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p = x.flatten(1)[:, self.pixel : self.pixel + 1]
        return -((p - (torch.arange(4, dtype=x.dtype) + 0.5) / 4) ** 2)


class _Stub:
    """A defence: pred_D from pixel 2, score S = pixel 1."""

    name = "stub"

    def __init__(self, detector: bool, threshold: float | None) -> None:
        self.is_detector, self.threshold = detector, threshold

    def predict_and_score(self, x: torch.Tensor):
        pred = _ByPixel(2)(x).argmax(1)
        return pred, (x.flatten(1)[:, 1].clone() if self.is_detector else None)


def _c(*classes: int) -> list[float]:
    return [(c + 0.5) / 4 for c in classes]


def _synthetic():
    """Four examples, y = 0..3; pixel 0: C's class, pixel 1: detector score, pixel 2: pred_D's class."""
    y = torch.tensor([0, 1, 2, 3])
    x = torch.tensor([_c(0, 1, 2, 2), [0.1, 0.2, 0.3, 0.4], _c(0, 1, 1, 3)], dtype=torch.float64)
    x_adv = torch.tensor([_c(1, 1, 3, 2), [0.5, 0.05, 0.2, 0.6], _c(0, 2, 2, 1)], dtype=torch.float64)
    return x.T.reshape(4, 1, 1, 3).contiguous(), y, x_adv.T.reshape(4, 1, 1, 3).contiguous()


def _norms(x: torch.Tensor, x_adv: torch.Tensor) -> dict[str, float]:
    d = (x_adv - x).flatten(1)
    per = {
        "l0": (d != 0).sum(1).double(),
        "l1": d.abs().sum(1),
        "l2": (d**2).sum(1).sqrt(),
        "linf": d.abs().max(1).values,
    }
    return {f"{k}_{s}": getattr(v, s)().item() for k, v in per.items() for s in ("mean", "max")}


def test_compute_metrics_equals_a_hand_computation():
    x, y, x_adv = _synthetic()
    engine = Engine(device="cpu")
    scores: dict[str, torch.Tensor] = {}
    got = engine.compute_metrics(_ByPixel(0), _Stub(True, 0.35), x, y, x_adv, 1.0, "linf", scores_out=scores)
    # C(x) = [0,1,2,2], C(x') = [1,1,3,2], pred_D(x) = [0,1,1,3], pred_D(x') = [0,2,2,1]; successful: 0 and 2;
    # S(x) = [.1,.2,.3,.4], S(x') = [.5,.05,.2,.6], t = .35
    expected = {
        "clean_accuracy": 0.75,
        "defended_clean_accuracy": 0.75,
        "clean_accuracy_drop": 0.0,
        "adversarial_accuracy": 0.25,
        "corrected_accuracy": 0.5,
        "detection_auc": 5.5 / 8,  # S(x') of the successful [.5, .2] against the 4 clean scores
        "detection_auc_all": 9.5 / 16,
        "auc_all_from_chance": 9.5 / 16 - 0.5,
        "n_successful": 2.0,
        "tpr_at_fpr": 0.5,
        "false_positive_rate": 0.25,
        "defended_rate": 0.75,  # flagged [1,0,0,1] or correct [1,0,1,0]
        "attack_success_rate": 2 / 3,
        "misclassification_rate": 2 / 3,
        "threshold": 0.35,
        **_norms(x, x_adv),
        "budget_violations": 0.0,
        "adaptive_success_rate": 1 / 3,  # of the correct 0,1,2 only 1 is misclassified by D and unflagged
    }
    assert got.keys() == expected.keys() == {m.name for m in METRICS.values() if m.compute is not None}
    assert got == pytest.approx(expected, abs=1e-7)
    assert torch.equal(scores["successful"], torch.tensor([True, False, True, False]))
    # not a detector: every detector metric is None, defended_rate is the corrected accuracy, no scores
    scores = {}
    plain = engine.compute_metrics(
        _ByPixel(0), _Stub(False, None), x, y, x_adv, 0.1, "linf", scores_out=scores
    )
    detector_only = {m.name for m in METRICS.values() if m.detector_only and m.compute is not None}
    assert {k for k, v in plain.items() if v is None} == detector_only and not scores
    assert plain["defended_rate"] == plain["corrected_accuracy"] == 0.5
    assert plain["budget_violations"] == 4.0  # every x′ moved more than ε = 0.1
    assert plain["adaptive_success_rate"] == 0.0  # none within the budget


# ---------------------------------------------------------------------------- consumers read the declarations
def test_table_flags_tolerances_and_sets_are_views_of_the_declarations():
    with_column = [(m.name, m.column) for m in METRICS.values() if m.column]
    columns, short = report.TABLE_COLUMNS, report.INDICATOR_FLAGS
    assert columns == [("case", "case"), *with_column, ("flags", "flags"), ("outcome", "result")]
    assert [h for _, h in columns] == [
        "case", "clean", "def.clean", "adv", "corrected", "AUC", "n_succ", "TPR@t", "FPR", "defended", "ASR",
        "L∞max", "L2mean", "flags", "result",
    ]  # fmt: skip
    assert short == {m.name: m.flag for m in METRICS.values() if m.flag}
    assert list(short.values()) == [
        "budget", "silent", "eps-nonmono", "iter<1step", "unbounded>0", "bb>wb", "shattered",
        "score-shattered", "wb<gb", "adaptive<oblivious", "noise>=attack", "checks-off",
    ]  # fmt: skip
    assert report.family_columns() == {
        "corrected_accuracy": "worst_case_corrected_accuracy",
        "defended_rate": "worst_case_defended_rate",
    }
    assert report.DEFAULT_DELTA_METRICS == ("corrected_accuracy", "detection_auc")
    assert [h for _, h in report.summary_columns()] == ["clean", "corrected", "AUC", "defended", "ASR"]
    tol = history.parse_tolerances(history.DEFAULT_TOLERANCES)
    assert {m: t.value for m, t in tol.items()} == {
        "corrected_accuracy": 0.02,
        "detection_auc": 0.02,
        "defended_rate": 0.02,
        "defended_clean_accuracy": 0.01,
    }
    assert (
        indicators.INCONCLUSIVE
        == inconclusive_fixes()
        == {m.name: m.inconclusive for m in METRICS.values() if m.inconclusive}
    )
    flagged_not_inconclusive = {
        "budget_violations",
        "indicators_off",
    }  # a bug / a setting: not an attack failure
    assert set(inconclusive_fixes()) == set(short) - flagged_not_inconclusive | {"gradient_masking"}
    family, detector = validation.FAMILY_METRICS, validation.DETECTOR_METRICS
    assert family == {"worst_case_corrected_accuracy", "worst_case_defended_rate"}
    assert detector == {m.name for m in METRICS.values() if m.detector_only}
    assert validation.metric_range("auc_all_from_chance") == (0.0, 0.5)
    assert validation.metric_range("threshold") == (None, None)
    for name, info in METRICS.items():
        assert isinstance(info, MetricInfo) and info.name == name
        for other in (info.family_column, *info.parts):
            assert other is None or other in METRICS, f"{name} refers to undeclared {other}"


@pytest.fixture
def gap_metric():
    """A user metric with a column, a default tolerance, a flag and an inconclusive fix; removed after."""
    info = register_metric(
        "decl_test_gap",
        higher_is_better=False,
        description="a test metric",
        range=(0.0, 1.0),
        column="gap",
        tolerance=0.05,
        flag="gap!",
        inconclusive="close the gap",
    )
    try:
        yield info
    finally:
        del METRICS["decl_test_gap"]


def test_a_registered_metric_shows_up_in_the_table_the_tolerances_and_the_inconclusive_set(
    gap_metric, tmp_path
):
    assert gap_metric.column == "gap" and gap_metric.range == (0.0, 1.0) and gap_metric.compute is None
    # the results table: its column after the declared ones, its flag in the flags column
    rec = {"case": "c", "outcome": "passed", "metrics": {"decl_test_gap": 0.25, "budget_violations": 0.0}}
    header, _, row = report.format_table([rec]).splitlines()
    cells = dict(zip(header.split(), row.split(), strict=True))
    assert header.split()[-3:] == ["gap", "flags", "result"] and cells["gap"] == "0.250"
    assert cells["flags"] == "gap!"
    assert report.flags({"decl_test_gap": 0.0}) == "-"
    # the default tolerances of a new baseline
    assert "decl_test_gap:0.05" in history.DEFAULT_TOLERANCES.split(",")
    run = {"suites": {"s": {"c": {"metrics": {"decl_test_gap": 0.25, "corrected_accuracy": 0.5}}}}}
    history.write_baseline(tmp_path / "baseline.json", run, source=None)
    spec = json.loads((tmp_path / "baseline.json").read_text())["metrics"]
    assert spec["decl_test_gap"] == {"direction": "lower", "tolerance": "0.05"}
    # the inconclusive indicators: raised, it makes a case inconclusive and can be allowed by name
    assert indicators.INCONCLUSIVE["decl_test_gap"] == "close the gap"
    assert indicators.inconclusive_reasons({"decl_test_gap": 1.0}) == {"decl_test_gap": "close the gap"}
    assert Thresholds(allow_inconclusive=["decl_test_gap"]).allow_inconclusive == {"decl_test_gap"}
    # its range is checked
    validation.check_metric_value("bar", "decl_test_gap", 0.5)
    with pytest.raises(ConfigError, match=r"outside the range of decl_test_gap: \[0, 1\]"):
        validation.check_metric_value("bar", "decl_test_gap", 1.5)


def test_after_removal_a_registered_metric_is_gone_everywhere(gap_metric):
    del METRICS["decl_test_gap"]
    try:
        assert "gap" not in [h for _, h in report.TABLE_COLUMNS]
        assert "decl_test_gap" not in history.DEFAULT_TOLERANCES
        assert "decl_test_gap" not in indicators.INCONCLUSIVE
        with pytest.raises(ConfigError, match="allow_inconclusive"):
            Thresholds(allow_inconclusive=["decl_test_gap"])
    finally:
        METRICS["decl_test_gap"] = gap_metric  # for the fixture's teardown


def test_register_metric_checks_its_fields_and_keeps_a_builtin_declaration():
    for bad in (
        {"column": ""},
        {"tolerance": -0.1},
        {"tolerance": math.inf},
        {"tolerance": True},
        {"range": (1.0, 0.0)},
        {"range": (0.0,)},
        {"range": (0.0, math.nan)},
        {"flag": 3},
    ):
        with pytest.raises(ValueError, match="decl_bad"):
            register_metric("decl_bad", higher_is_better=True, **bad)
        assert "decl_bad" not in METRICS
    before = METRICS["corrected_accuracy"]
    try:
        again = register_metric("corrected_accuracy", higher_is_better=True)
        assert again == before  # declaring a built-in again with its direction changes nothing
    finally:
        METRICS["corrected_accuracy"] = before


# ---------------------------------------------------------------------------- layering
def test_metrics_is_a_base_layer_module():
    """robustcheck.metrics imports only torch, the stdlib, robustcheck.errors and robustcheck.norms."""
    tree = ast.parse((ROOT / "robustcheck" / "metrics.py").read_text(encoding="utf-8"))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module or "")
    allowed = {"robustcheck.errors", "robustcheck.norms"}
    for name in imported:
        top = name.split(".")[0]
        assert name in allowed or top == "torch" or top in sys.stdlib_module_names or name == "__future__", (
            name
        )
