"""Suite model: validation errors name the field; thresholds resolve most-specific-first."""

from __future__ import annotations

import pytest

from robustcheck import Attack, Defence, Suite, Thresholds
from robustcheck.errors import ConfigError


def suite(**kw):
    base = {
        "name": "s",
        "attacks": [Attack("fgsm", eps=[0.1, 0.3])],
        "defences": ["none", "ae-kl"],
        "threat_models": ["grey-box", "white-box"],
    }
    base.update(kw)
    return Suite(**base)


def test_case_ids_are_readable_and_stable():
    ids = [c.id for c in suite().cases()]
    assert ids[0] == "none|fgsm|eps=0.1|grey-box"
    assert "ae-kl|fgsm|eps=0.3|white-box" in ids
    assert ids == [c.id for c in suite().cases()]
    assert len(ids) == 8


@pytest.mark.parametrize(
    "eps, msg",
    [
        (-0.1, ">= 0"),
        (float("nan"), "finite"),
        ("0.1", "must be a number"),
        ([], "empty"),
        ([0.1, 0.1], "duplicates"),
        (True, "must be a number"),
    ],
)
def test_bad_eps(eps, msg):
    with pytest.raises(ConfigError, match=msg):
        Attack("fgsm", eps=eps)


def test_unknown_attack_lists_known():
    with pytest.raises(ConfigError, match=r"unknown attack 'pgd-l9'; known: .*fgsm.*pgd-linf"):
        suite(attacks=[Attack("pgd-l9", eps=0.1)])


def test_unknown_attack_parameter():
    with pytest.raises(ConfigError, match=r"attack 'pgd-linf' has no parameter 'stepz'; accepted: .*steps"):
        suite(attacks=[Attack("pgd-linf", eps=0.1, stepz=3)])


def test_unknown_defence_lists_known():
    with pytest.raises(ConfigError, match=r"unknown defence 'ae-xx'; known: .*ae-kl"):
        suite(defences=["ae-xx"])


def test_unknown_metric_threshold():
    with pytest.raises(ConfigError, match="unknown metric 'corected_accuracy'"):
        Thresholds(corected_accuracy=0.5)


def test_threshold_selectors_checked_against_suite():
    with pytest.raises(ConfigError, match="Thresholds\\(defence='ae-mse'\\) matches no defence"):
        suite(thresholds=[Thresholds(defence="ae-mse", detection_auc=0.9)])


def test_bad_threat_model():
    with pytest.raises(ConfigError, match="threat model 'gray-box' unknown"):
        suite(threat_models=["gray-box"])


def test_unknown_dataset():
    with pytest.raises(ConfigError, match=r"dataset .imagenet. is neither a registered name"):
        suite(dataset="imagenet")


def test_duplicate_ids_rejected():
    with pytest.raises(ConfigError, match="duplicate case ids"):
        suite(attacks=[Attack("fgsm", eps=0.1), Attack("fgsm", eps=0.1)])
    ok = suite(attacks=[Attack("fgsm", eps=0.1), Attack("fgsm", eps=0.1, id="fgsm-b")])
    assert any("fgsm-b" in c.id for c in ok.cases())


def test_most_specific_threshold_wins():
    s = suite(
        thresholds=[
            Thresholds(corrected_accuracy=0.1, clean_accuracy_drop=0.05),
            Thresholds(defence="ae-kl", corrected_accuracy=0.2),
            Thresholds(attack="fgsm", corrected_accuracy=0.3),
            Thresholds(defence="ae-kl", attack="fgsm", eps=0.3, threat="white-box", corrected_accuracy=0.4),
            Thresholds(scale="smoke", defence="ae-kl", corrected_accuracy=0.25),
        ]
    )
    cases = {c.id: c for c in s.cases()}
    b = cases["ae-kl|fgsm|eps=0.3|white-box"].bars("default")
    assert b["corrected_accuracy"].value == 0.4 and b["clean_accuracy_drop"].value == 0.05
    assert not b["clean_accuracy_drop"].higher_is_better and b["corrected_accuracy"].higher_is_better
    assert cases["ae-kl|fgsm|eps=0.1|grey-box"].bars("default")["corrected_accuracy"].value == 0.3
    assert cases["none|fgsm|eps=0.1|grey-box"].bars("default")["corrected_accuracy"].value == 0.3
    # scale-scoped bar beats an unscoped one of the same specificity
    s2 = suite(
        thresholds=[
            Thresholds(defence="ae-kl", corrected_accuracy=0.2),
            Thresholds(scale="smoke", defence="ae-kl", corrected_accuracy=0.05),
        ]
    )
    c = s2.cases()[-1]
    assert c.bars("smoke")["corrected_accuracy"].value == 0.05
    assert c.bars("default")["corrected_accuracy"].value == 0.2


def test_bar_direction():
    s = suite(thresholds=[Thresholds(corrected_accuracy=0.5, clean_accuracy_drop=0.02)])
    bars = s.cases()[0].bars("default")
    assert bars["corrected_accuracy"].passed(0.5) and not bars["corrected_accuracy"].passed(0.49)
    assert bars["clean_accuracy_drop"].passed(0.02) and not bars["clean_accuracy_drop"].passed(0.03)
    assert not bars["corrected_accuracy"].passed(float("nan"))


def test_custom_defence_factory_accepted():
    from robustcheck.defences.none import NoDefence

    s = suite(defences=[Defence(NoDefence, id="mine")])
    assert s.cases()[0].defence.id == "mine"


def test_attack_threats_restrict_its_cases_and_families():
    s = suite(
        attacks=[Attack("fgsm", eps=0.1), Attack("pgd-linf", eps=0.1, threats=["white-box"])],
        families={"f": ["fgsm", "pgd-linf"]},
    )
    ids = [c.id for c in s.cases()]
    assert "none|pgd-linf|eps=0.1|white-box" in ids and "none|pgd-linf|eps=0.1|grey-box" not in ids
    assert "none|fgsm|eps=0.1|grey-box" in ids
    assert "none|family=f|eps=0.1|white-box" in ids and "none|family=f|eps=0.1|grey-box" not in ids


@pytest.mark.parametrize(
    "threats, msg",
    [
        (["grey"], "must be a non-empty list"),
        ([], "must be a non-empty list"),
        (["black-box"], "does not run"),
    ],
)
def test_bad_attack_threats(threats, msg):
    with pytest.raises(ConfigError, match=msg):
        suite(attacks=[Attack("fgsm", eps=0.1, threats=threats)])


def test_detector_aware_attack_has_no_black_box_form():
    with pytest.raises(
        ConfigError, match=r"'sigma-pgd' is detector-aware .* threats=\['grey-box', 'white-box'\]"
    ):
        suite(attacks=[Attack("sigma-pgd", eps=0.1)], threat_models=["grey-box", "black-box"])
    ok = suite(
        attacks=[Attack("sigma-pgd", eps=0.1, threats=["grey-box"])], threat_models=["grey-box", "black-box"]
    )
    assert [c.threat for c in ok.cases()] == ["grey-box", "grey-box"]


def test_defence_epochs_per_scale():
    from robustcheck.suite import DEFAULT_SCALES

    d = Defence("ae-kl", epochs={"default": 10})
    assert d.epochs_at("default", DEFAULT_SCALES["default"]) == 10
    assert d.epochs_at("smoke", DEFAULT_SCALES["smoke"]) == DEFAULT_SCALES["smoke"].defence_epochs
    assert Defence("ae-kl", epochs=7).epochs_at("paper", DEFAULT_SCALES["paper"]) == 7
    paper = DEFAULT_SCALES["paper"]
    assert Defence("ae-kl").epochs_at("paper", paper) == paper.defence_epochs
    assert "epochs" not in Defence("ae-kl", epochs=7).params  # not a constructor parameter


@pytest.mark.parametrize(
    ("epochs", "words"),
    [
        ({"big": 10}, ["'ae-kl'", "epochs", "unknown scale", "big", "smoke, default, paper"]),
        ({"default": 0}, ["'ae-kl'", "epochs", ">= 1", "'default': 0"]),
        (True, ["'ae-kl'", "epochs", "int >= 1", "mapping"]),
        (2.5, ["'ae-kl'", "epochs", "int >= 1"]),
    ],
)
def test_bad_defence_epochs_is_one_clear_error(epochs, words):
    with pytest.raises(ConfigError) as err:
        Defence("ae-kl", epochs=epochs)
    assert all(w in str(err.value) for w in words), str(err.value)
