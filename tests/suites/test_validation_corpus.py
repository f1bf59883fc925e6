"""A hypothesis-driven corpus of bad inputs: every field of Suite, Attack (and its parameters), Defence (and
its parameters), Thresholds, Scale, baseline files and run records. Each bad input must raise exactly one
:class:`ConfigError` whose message names the field (never TypeError, KeyError, AttributeError, a bare
ValueError or OverflowError, never silent acceptance); good inputs must be accepted, so no check passes by
rejecting everything.

Every test runs a fixed, derandomized number of examples (independent of the hypothesis profile); in all,
well over 300 bad inputs (see ``BAD_EXAMPLES``).
"""

from __future__ import annotations

import json
import math
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from robustcheck import Attack, Defence, Scale, Suite, Thresholds, cli, history
from robustcheck.errors import ConfigError

NAN, INF = float("nan"), float("inf")


def corpus(n: int) -> settings:
    return settings(
        max_examples=n,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )


# how many bad inputs each test below generates (each example is one bad input)
BAD_EXAMPLES = {
    "suite": 120,
    "attack": 60,
    "attack_params": 120,
    "defence": 60,
    "thresholds": 60,
    "bars": 40,
    "selection": 28,
    "scale": 40,
    "baseline": 60,
    "record": 60,
}  # 648 in all


def rejects(fn, *fields: str) -> ConfigError:
    """``fn()`` raises a ConfigError (nothing else) whose message names one of ``fields``."""
    try:
        fn()
    except ConfigError as exc:
        msg = str(exc)
        assert any(f.lower() in msg.lower() for f in fields), f"message does not name {fields}: {msg}"
        assert "Traceback" not in msg
        return exc
    except BaseException as exc:  # the point: anything else is a bug
        raise AssertionError(
            f"expected ConfigError naming {fields}, got {type(exc).__name__}: {exc}"
        ) from exc
    raise AssertionError(f"accepted silently (expected ConfigError naming {fields})")


# ---------------------------------------------------------------------------- wrong values
huge = st.integers(min_value=2**63, max_value=2**80)
negative_int = st.integers(max_value=-1)
not_finite = st.sampled_from([NAN, INF, -INF])
junk = st.one_of(
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=2),
    st.text(max_size=4),
    st.tuples(st.none()),
    st.builds(object),
)
wrong_count = st.one_of(
    st.booleans(),
    negative_int,
    huge,
    not_finite,
    st.just(0),  # None allowed: the default
    st.floats(0.1, 100).filter(lambda f: not f.is_integer()),
    junk,
)
wrong_int = st.one_of(st.none(), wrong_count)
wrong_flag = st.one_of(st.integers(), st.text(max_size=4), st.floats(allow_nan=True), junk)  # None allowed
wrong_bool = st.one_of(st.none(), wrong_flag)
wrong_number = st.one_of(
    st.booleans(),
    not_finite,
    st.integers(min_value=10**400, max_value=10**401),
    st.text(max_size=4),
    st.lists(st.floats(0, 1), max_size=2),
    st.dictionaries(st.text(max_size=1), st.integers()),
)
wrong_prob = st.one_of(wrong_number, st.floats(1.0001, 1e9), st.floats(-1e9, -1e-6))
wrong_id_given = st.one_of(
    st.integers(),
    st.just(""),
    st.just("a b"),
    st.just("x\n"),
    st.just("-lead"),
    st.just("a/b"),
    st.just("a|b"),
    st.text(max_size=3).map(lambda t: t + "\n"),
    st.text(max_size=4).filter(lambda t: not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.+-]*", t)),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=2),
)
wrong_id = st.one_of(st.none(), wrong_id_given)
wrong_seed = st.one_of(
    st.none(), st.booleans(), negative_int, huge, st.floats(0, 10), st.text(max_size=3), junk
)
wrong_list = st.one_of(
    st.none(),
    st.integers(),
    st.text(min_size=1, max_size=4),
    st.just([]),
    st.just([None]),
    st.lists(st.integers(), min_size=1, max_size=2),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=1),
)
wrong_eps = st.one_of(
    st.none(),
    st.booleans(),
    negative_int,
    st.floats(max_value=-1e-9),
    not_finite,
    st.integers(min_value=10**400, max_value=10**401),
    st.floats(1.0001, 1e12),
    st.just([]),
    st.just([0.1, 0.1]),
    st.text(max_size=3),
    st.lists(st.text(max_size=1), min_size=1, max_size=2),
    st.dictionaries(st.text(max_size=1), st.floats(0, 1), max_size=1),
)


def attacks():
    return [Attack("fgsm", eps=[0.1, 0.3])]


def suite(**kw):
    base = {"name": "s", "attacks": attacks(), "defences": ["none", "ae-kl"], "threat_models": ["grey-box"]}
    base.update(kw)
    return Suite(**base)


# ---------------------------------------------------------------------------- Suite
SUITE_FIELDS = {
    "name": (wrong_id, ("suite name",)),
    "attacks": (
        st.one_of(wrong_list, st.just(["fgsm"]), st.just([Thresholds(corrected_accuracy=0.5)])),
        ("attacks",),
    ),
    "defences": (
        st.one_of(
            st.just([]),
            st.just(None),
            st.just(3),
            st.just([None]),
            st.just([1.5]),
            st.just(["nope"]),
            st.just([{"name": "none"}]),
        ),
        ("defence",),
    ),
    "threat_models": (
        st.one_of(wrong_list, st.just(["gray-box"]), st.just(["grey-box", "grey-box"])),
        ("threat model", "threat_models"),
    ),
    "thresholds": (
        st.one_of(
            st.none(),
            st.integers(),
            st.just([1]),
            st.just([None]),
            st.just(["x"]),
            st.just({"corrected_accuracy": 0.5}),
        ),
        ("thresholds",),
    ),
    "seed": (wrong_seed, ("seed",)),
    "fpr": (st.one_of(wrong_prob, st.just(1), st.none()), ("fpr",)),
    "data_root": (st.one_of(st.integers(), st.just([]), st.just({}), st.booleans()), ("data_root",)),
    "scales": (
        st.one_of(
            st.none(),
            st.integers(),
            st.just([]),
            st.just("smoke"),
            st.just({"huge": None}),
            st.just({"smoke": 1}),
            st.just({1: None}),
        ),
        ("scales",),
    ),
    "n_samples": (wrong_count, ("n_samples",)),
    "batch_size": (wrong_count, ("batch_size",)),
    "eot_samples": (wrong_int, ("eot_samples",)),
    "families": (
        st.one_of(
            st.none(),
            st.integers(),
            st.just(["fgsm"]),
            st.just({"f": "fgsm"}),
            st.just({"f": ["fgsm"]}),
            st.just({"f": ["fgsm", "nope"]}),
            st.just({"bad id": ["a", "b"]}),
            st.just({"f": ["fgsm", "fgsm"]}),
            st.just({"f": [["a"], "fgsm"]}),
        ),
        ("famil",),
    ),
    "indicators": (wrong_bool, ("indicators",)),
    "surrogate": (st.one_of(st.integers(), st.just([]), st.just(1.5)), ("surrogate",)),
    "outputs": (
        st.one_of(st.none(), st.integers(), st.just("prob"), st.just([]), st.just(["logits"])),
        ("outputs",),
    ),
    "normalize": (
        st.one_of(
            st.integers(),
            st.text(max_size=3),
            st.just((1,)),
            st.just((0.5, 0)),
            st.just((NAN, 1.0)),
            st.just((0.5, [1.0, -1.0])),
            st.just((10**400, 1)),
            st.just(([0.1, 0.2], [0.3, 0.4, 0.5])),
        ),
        ("normalize",),
    ),
    "dataset": (st.one_of(st.none(), st.integers(), st.just("imagenet"), st.just([])), ("dataset",)),
    "classifier": (st.one_of(st.none(), st.integers(), st.just("no-such-net"), st.just([])), ("classifier",)),
}


@corpus(BAD_EXAMPLES["suite"])
@given(st.sampled_from(sorted(SUITE_FIELDS)).flatmap(lambda f: st.tuples(st.just(f), SUITE_FIELDS[f][0])))
def test_suite_field(field_value):
    field, value = field_value
    kw = {field: value}
    if field in ("normalize", "outputs"):
        kw["classifier"] = lambda: None  # a user's model: normalize/outputs apply
    rejects(lambda: suite(**kw), *SUITE_FIELDS[field][1])


# ---------------------------------------------------------------------------- Attack
ATTACK_FIELDS = {
    "name": (
        st.one_of(
            st.none(),
            st.integers(),
            st.just(""),
            st.just("pgd-l3"),
            st.just([]),
            st.text(max_size=2).map(lambda t: "zz" + t),
        ),
        ("attack",),
    ),
    "eps": (wrong_eps, ("eps",)),
    "id": (wrong_id_given, ("id",)),
    "threats": (
        st.one_of(
            st.just("grey-box"),
            st.just([]),
            st.just(["gray"]),
            st.just([1]),
            st.integers(),
            st.just(["grey-box", "grey-box"]),
            st.just([None]),
        ),
        ("threats",),
    ),
}


@corpus(BAD_EXAMPLES["attack"])
@given(st.sampled_from(sorted(ATTACK_FIELDS)).flatmap(lambda f: st.tuples(st.just(f), ATTACK_FIELDS[f][0])))
def test_attack_field(field_value):
    field, value = field_value
    kw = {"name": "pgd-linf", "eps": 0.1, field: value}
    rejects(lambda: Attack(kw.pop("name"), **kw), *ATTACK_FIELDS[field][1])


# (attack, parameter) -> bad values: by type (the signature's annotation) and by the attack's own range checks
ATTACK_PARAMS = {
    ("pgd-linf", "steps"): st.one_of(wrong_int, st.just("abc")),
    ("pgd-linf", "alpha"): st.one_of(wrong_number, st.just(0), st.floats(max_value=-1e-9)),
    ("pgd-linf", "random_start"): st.one_of(wrong_flag, st.just("no")),
    ("pgd-linf", "restarts"): wrong_int,
    ("pgd-linf", "targeted"): st.one_of(wrong_bool, st.just("no")),
    ("bim-linf", "steps"): wrong_int,
    ("pgd-l2", "alpha"): wrong_number,
    ("fgsm", "targeted"): wrong_bool,
    ("cw-l2", "search_steps"): wrong_int,
    ("cw-l2", "initial_const"): st.one_of(wrong_number, st.floats(max_value=0)),
    ("cw-l2", "confidence"): st.one_of(wrong_number, st.floats(max_value=-1e-9)),
    ("cw-l2", "abort_early"): wrong_bool,
    ("cw-linf", "lr"): st.one_of(wrong_number, st.floats(max_value=0)),
    ("square", "p_init"): st.one_of(wrong_number, st.floats(1.0001, 10), st.floats(max_value=0)),
    ("square", "steps"): wrong_int,
    ("deepfool", "candidates"): st.one_of(
        st.integers(max_value=1), huge, st.text(max_size=2), st.booleans(), st.floats(2.5, 9)
    ),
    ("deepfool", "overshoot"): st.one_of(wrong_number, st.floats(max_value=-1e-9)),
    ("slide", "q"): st.one_of(wrong_number, st.floats(100, 1e6), st.floats(max_value=-1e-9)),
    ("r-fgsm", "alpha"): st.one_of(wrong_number, st.floats(max_value=-1e-9)),
    ("sigma-pgd", "sigma"): st.one_of(wrong_number, st.floats(1.0001, 10), st.floats(max_value=-1e-9)),
    ("bim-recon", "beta"): wrong_number,
    ("cw-detector", "kappa"): st.one_of(wrong_number, st.floats(max_value=0)),
    ("autoattack", "version"): st.one_of(st.none(), st.integers(), st.just("fast"), st.just([])),
}


@corpus(BAD_EXAMPLES["attack_params"])
@given(st.sampled_from(sorted(ATTACK_PARAMS)).flatmap(lambda k: st.tuples(st.just(k), ATTACK_PARAMS[k])))
def test_attack_parameter(key_value):
    (name, param), value = key_value
    rejects(lambda: Attack(name, eps=0.1, **{param: value}), param)


@pytest.mark.parametrize(
    "name, params, field",
    [
        ("pgd-linf", {"stepz": 3}, "stepz"),
        ("pgd-linf", {"seed": 1}, "seed"),
        ("fgsm", {"batch_size": 3}, "batch_size"),
        ("fgsm", {"norm": "l2"}, "norm"),
        ("fgsm", {"steps": 3}, "steps"),
    ],
)
def test_attack_unknown_or_reserved_parameter(name, params, field):
    rejects(lambda: Attack(name, eps=0.1, **params), field)


# ---------------------------------------------------------------------------- Defence
DEFENCE_PARAMS = {
    ("ae-kl", "temperature"): st.one_of(wrong_number, st.none(), st.floats(max_value=0)),
    ("ae-kl", "latent_dim"): wrong_int,
    ("ae-kl", "lr"): st.one_of(wrong_number, st.floats(max_value=0)),
    ("ae-kl", "shift"): st.one_of(
        wrong_int.filter(lambda v: v is not None and v != 0), st.integers(9, 2**70)
    ),
    ("ae-mse", "train_noise"): st.one_of(wrong_number, st.floats(max_value=-1e-9)),
    ("feature-squeezing", "bits"): st.one_of(
        st.booleans(),
        st.integers(max_value=0),
        st.integers(17, 2**70),
        st.text(max_size=2),
        st.floats(1.5, 2.5),
    ),
    ("feature-squeezing", "median_size"): st.one_of(
        st.booleans(), st.integers(max_value=1), st.text(max_size=2)
    ),
    ("magnet", "norm"): st.one_of(st.booleans(), st.integers(3, 9), st.text(max_size=2), st.floats(1.5, 1.9)),
    ("magnet", "noise"): st.one_of(wrong_number, st.floats(max_value=-1e-9)),
}


@corpus(BAD_EXAMPLES["defence"])
@given(
    st.one_of(
        st.sampled_from(sorted(DEFENCE_PARAMS)).flatmap(lambda k: st.tuples(st.just(k), DEFENCE_PARAMS[k])),
        st.tuples(
            st.just(("ae-kl", "name")),
            st.one_of(st.none(), st.integers(), st.just(""), st.just("ae-xx"), st.just([])),
        ),
        st.tuples(st.just(("ae-kl", "id")), wrong_id_given),
        st.tuples(
            st.just(("ae-kl", "unknown")), st.text("abcxyz", min_size=1, max_size=5).map(lambda t: "zz_" + t)
        ),
    )
)
def test_defence_field_and_parameter(key_value):
    (name, param), value = key_value
    if param == "name":
        rejects(lambda: suite(defences=[Defence(value)]), "defence")
    elif param == "id":
        rejects(lambda: suite(defences=[Defence(name, id=value)]), "id")
    elif param == "unknown":
        rejects(lambda: suite(defences=[Defence(name, **{value: 1})]), value)
    else:
        rejects(lambda: suite(defences=[Defence(name, **{param: value})]), param)


def test_defence_class_parameters_checked_by_signature():
    from robustcheck.defences.feature_squeezing import FeatureSqueezing

    rejects(lambda: Defence(FeatureSqueezing, bitz=1), "bitz")
    rejects(lambda: Defence(FeatureSqueezing, bits="1"), "bits")
    rejects(lambda: Defence(FeatureSqueezing(), bits=1), "parameters")


# ---------------------------------------------------------------------------- Thresholds
THRESHOLD_FIELDS = {
    "defence": (
        st.one_of(st.integers(), st.lists(st.just("ae-kl"), min_size=1, max_size=2), st.just({})),
        ("defence",),
    ),
    "attack": (
        st.one_of(st.integers(), st.lists(st.just("fgsm"), min_size=1, max_size=2), st.just({})),
        ("attack",),
    ),
    "eps": (
        st.one_of(
            st.just([0.1, 0.3]), st.just((0.1,)), st.text(max_size=3), negative_int, not_finite, st.booleans()
        ),
        ("eps",),
    ),
    "threat": (
        st.one_of(st.just("gray-box"), st.integers(), st.just([]), st.just(["grey-box"])),
        ("threat",),
    ),
    "scale": (st.one_of(st.just("huge"), st.integers(), st.just([]), st.just(["smoke"])), ("scale",)),
    "allow_inconclusive": (
        st.one_of(
            st.just("x"),
            st.integers(),
            st.just([]),
            st.just(["nope"]),
            st.just({"a": 1}),
            st.floats(),
            st.just([["noise_as_strong"]]),
        ),
        ("allow_inconclusive",),
    ),
}


@corpus(BAD_EXAMPLES["thresholds"])
@given(
    st.sampled_from(sorted(THRESHOLD_FIELDS)).flatmap(lambda f: st.tuples(st.just(f), THRESHOLD_FIELDS[f][0]))
)
def test_thresholds_selector(field_value):
    field, value = field_value
    rejects(lambda: Thresholds(**{field: value}, corrected_accuracy=0.5), *THRESHOLD_FIELDS[field][1])


UNIT_METRICS = [
    "corrected_accuracy",
    "detection_auc",
    "clean_accuracy",
    "defended_rate",
    "attack_success_rate",
    "false_positive_rate",
    "worst_case_corrected_accuracy",
]


@corpus(BAD_EXAMPLES["bars"])
@given(
    st.one_of(
        st.tuples(
            st.sampled_from(UNIT_METRICS),
            st.one_of(wrong_number, st.floats(1.0001, 1e6), st.floats(-1e6, -1e-6)),
        ),
        st.tuples(st.sampled_from(["n_successful", "l2_mean", "budget_violations"]), st.floats(-1e6, -1e-6)),
        st.tuples(st.just("clean_accuracy_drop"), st.one_of(st.floats(1.0001, 10), st.floats(-10, -1.0001))),
        st.tuples(st.just("auc_all_from_chance"), st.floats(0.5001, 10)),
        st.tuples(st.text("abcdef_", min_size=1, max_size=8).map(lambda t: "x" + t), st.floats(0, 1)),
    )
)
def test_thresholds_bar(metric_value):
    metric, value = metric_value
    rejects(lambda: Thresholds(**{metric: value}), metric)


# a bar that selects no case, or names a metric none of its cases measures, is an error at collection
SELECTION = [
    (lambda v: Thresholds(eps=0.2, corrected_accuracy=v), {}, "matches no case"),
    (lambda v: Thresholds(threat="white-box", corrected_accuracy=v), {}, "matches no case"),
    (lambda v: Thresholds(scale="smoke", threat="black-box", corrected_accuracy=v), {}, "matches no case"),
    (lambda v: Thresholds(defence="nope", corrected_accuracy=v), {}, "matches no defence"),
    (lambda v: Thresholds(attack="pgd-linf", corrected_accuracy=v), {}, "matches no attack"),
    (lambda v: Thresholds(defence="none", detection_auc=v), {}, "detection_auc"),
    (lambda v: Thresholds(defence="none", tpr_at_fpr=v), {}, "tpr_at_fpr"),
    (lambda v: Thresholds(defence="none", false_positive_rate=v), {}, "false_positive_rate"),
    (lambda v: Thresholds(worst_case_corrected_accuracy=v), {}, "worst_case_corrected_accuracy"),
    (lambda v: Thresholds(indicators_off=v), {}, "indicators_off"),
    (lambda v: Thresholds(gradient_masking=v), {"indicators": False}, "gradient_masking"),
    (lambda v: Thresholds(defence="ae-kl", shattered_score_gradients=v), {}, "shattered_score_gradients"),
    (
        lambda v: Thresholds(attack="f", corrected_accuracy=v),
        {
            "attacks": [Attack("fgsm", eps=0.1), Attack("pgd-linf", eps=0.1)],
            "families": {"f": ["fgsm", "pgd-linf"]},
        },
        "corrected_accuracy",
    ),
    (
        lambda v: Thresholds(defence="none", eps=0.3, threat="grey-box", detection_auc_all=v),
        {},
        "detection_auc_all",
    ),
]


@corpus(BAD_EXAMPLES["selection"])
@given(st.sampled_from(range(len(SELECTION))), st.floats(0, 1))
def test_bar_must_select_a_case_that_measures_it(i, value):
    make, kw, field = SELECTION[i]
    rejects(lambda: suite(thresholds=[make(value)], **kw), field)


# ---------------------------------------------------------------------------- Scale
SCALE_OK = {
    "n_samples": 8,
    "train_limit": None,
    "classifier_epochs": 1,
    "defence_epochs": 1,
    "attack_steps": None,
}


@corpus(BAD_EXAMPLES["scale"])
@given(
    st.sampled_from(sorted(SCALE_OK)).flatmap(
        lambda f: st.tuples(st.just(f), wrong_count if SCALE_OK[f] is None or f == "n_samples" else wrong_int)
    )
)
def test_scale_field(field_value):
    field, value = field_value
    rejects(lambda: Scale(**{**SCALE_OK, field: value}), field)


# ---------------------------------------------------------------------------- baseline and run-record files
GOOD_BASELINE = {
    "schema": history.BASELINE_SCHEMA,
    "updated": "2026-01-01T00:00:00+00:00",
    "source_run": "0001_x.json",
    "scale": "smoke",
    "metrics": {"corrected_accuracy": {"direction": "higher", "tolerance": "0.02"}},
    "suites": {"s": {"none|fgsm|eps=0.1|grey-box": {"corrected_accuracy": 0.8, "detection_auc": None}}},
}
CASE = "none|fgsm|eps=0.1|grey-box"
bad_metric_value = st.one_of(
    st.just("high"), st.booleans(), st.just([]), st.just({}), st.floats(1.0001, 1e9), st.floats(-1e9, -1e-6)
)


def _set(doc, path, value):
    doc = json.loads(json.dumps(doc))
    node = doc
    for key in path[:-1]:
        node = node[key]
    if value is _DELETE:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return doc


_DELETE = object()
BASELINE_MUTATIONS = [
    (
        ("schema",),
        st.one_of(st.integers(2, 10**6), st.integers(max_value=0), st.just("1"), st.just(True), st.none()),
        "schema",
    ),
    (("suites",), st.one_of(st.just([]), st.just("x"), st.integers(), st.none()), "suites"),
    (
        ("suites", "s"),
        st.one_of(st.just([]), st.just([{"a": 1}]), st.integers(), st.text(max_size=3)),
        "suites.s",
    ),
    (("suites", "s", CASE), st.one_of(st.just([]), st.integers(), st.text(max_size=3), st.none()), CASE),
    (("suites", "s", CASE, "corrected_accuracy"), bad_metric_value, "corrected_accuracy"),
    (("metrics",), st.one_of(st.just([]), st.just("x"), st.integers()), "metrics"),
    (
        ("metrics", "corrected_accuracy"),
        st.one_of(st.just("high"), st.just([]), st.integers()),
        "corrected_accuracy",
    ),
    (
        ("metrics", "corrected_accuracy", "direction"),
        st.one_of(st.just("up"), st.integers(), st.just([])),
        "direction",
    ),
    (
        ("metrics", "corrected_accuracy", "tolerance"),
        st.one_of(st.just("abc"), st.just(-1), st.just([0.1]), st.just("nan")),
        "corrected_accuracy",
    ),
    (("updated",), st.one_of(st.integers(), st.just([])), "updated"),
    (("scale",), st.one_of(st.integers(), st.just({})), "scale"),
]


@corpus(BAD_EXAMPLES["baseline"])
@given(
    st.sampled_from(range(len(BASELINE_MUTATIONS))).flatmap(
        lambda i: st.tuples(st.just(i), BASELINE_MUTATIONS[i][1])
    )
)
def test_baseline_field(tmp_path_factory, i_value):
    i, value = i_value
    path, _, field = BASELINE_MUTATIONS[i]
    f = tmp_path_factory.mktemp("b") / "baseline.json"
    f.write_text(json.dumps(_set(GOOD_BASELINE, path, value)))
    rejects(lambda: history.load_baseline(f), field)


@pytest.mark.parametrize(
    "text, field",
    [
        ("{", "unreadable"),
        ("[]", "baseline"),
        ("null", "baseline"),
        ('{"suites": {"s": {"c": {"corrected_accuracy": NaN}}}}', "corrected_accuracy"),
        ('{"metrics": {}}', "suites"),
    ],
)
def test_baseline_text(tmp_path, text, field):
    f = tmp_path / "b.json"
    f.write_text(text)
    rejects(lambda: history.load_baseline(f), field)


GOOD_RECORD = {
    "schema": history.SCHEMA,
    "started": "2026-01-01T00:00:00+00:00",
    "finished": "2026-01-01T00:01:00+00:00",
    "scale": "smoke",
    "seed_override": None,
    "seeds": {"s": 0},
    "device": "cpu",
    "machine": {},
    "packages": {},
    "git": {"commit": "abc", "dirty": False, "branch": "main"},
    "compared_with": None,
    "tolerances": {},
    "suites": {
        "s": {
            CASE: {
                "suite": "s",
                "case": CASE,
                "outcome": "passed",
                "status": "passed",
                "metrics": {"corrected_accuracy": 0.8, "detection_auc": None, "corrected_accuracy_fgsm": 0.7},
            }
        }
    },
}
RECORD_MUTATIONS = [
    (
        ("schema",),
        st.one_of(
            st.integers(history.SCHEMA + 1, 10**6), st.integers(max_value=0), st.just("2"), st.just(True)
        ),
        "schema",
    ),
    (("suites",), st.one_of(st.just([]), st.just("x"), st.integers(), st.none()), "suites"),
    (("suites", "s"), st.one_of(st.just([]), st.integers(), st.text(max_size=3)), "suites.s"),
    (("suites", "s", CASE), st.one_of(st.just([]), st.integers(), st.none()), CASE),
    (("suites", "s", CASE, "metrics"), st.one_of(st.just([]), st.text(max_size=3), st.integers()), "metrics"),
    (("suites", "s", CASE, "metrics", "corrected_accuracy"), bad_metric_value, "corrected_accuracy"),
    (
        ("suites", "s", CASE, "metrics", "corrected_accuracy_fgsm"),
        st.one_of(st.just("x"), st.booleans(), st.just([])),
        "corrected_accuracy_fgsm",
    ),
    (("suites", "s", CASE, "outcome"), st.one_of(st.integers(), st.just([]), st.just({})), "outcome"),
    (("git",), st.one_of(st.just([]), st.just("abc"), st.integers()), "git"),
    (("git", "commit"), st.one_of(st.integers(), st.just([])), "git.commit"),
    (("git", "dirty"), st.one_of(st.just("yes"), st.integers()), "git.dirty"),
    (("started",), st.one_of(st.integers(), st.just([])), "started"),
    (("seed_override",), st.one_of(st.just(-1), st.just("x"), st.just(2**64)), "seed_override"),
]


@corpus(BAD_EXAMPLES["record"])
@given(
    st.sampled_from(range(len(RECORD_MUTATIONS))).flatmap(
        lambda i: st.tuples(st.just(i), RECORD_MUTATIONS[i][1])
    )
)
def test_run_record_field(tmp_path_factory, i_value):
    i, value = i_value
    path, _, field = RECORD_MUTATIONS[i]
    folder = tmp_path_factory.mktemp("r")
    f = folder / "0001_20260101T000000Z.json"
    f.write_text(json.dumps(_set(GOOD_RECORD, path, value)))
    rejects(lambda: history.load_run(f), field)
    rejects(lambda: history.reference_from_run(f), field)


def test_cli_history_and_compare_on_bad_records(tmp_path, capsys):
    """`robustcheck history` lists a malformed record as unreadable; `compare` gives one error, exit 2."""
    good = tmp_path / "0001_20260101T000000Z.json"
    good.write_text(json.dumps(GOOD_RECORD))
    bad = tmp_path / "0002_20260101T000001Z.json"
    bad.write_text(
        json.dumps(_set(GOOD_RECORD, ("suites", "s", CASE, "metrics", "corrected_accuracy"), "high"))
    )
    worse = tmp_path / "0003_20260101T000002Z.json"
    worse.write_text(json.dumps(_set(GOOD_RECORD, ("suites", "s"), [1, 2])))
    assert cli.main(["history", "--results-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.count("unreadable") == 2
    for run in ("2", "3"):
        assert cli.main(["compare", "1", run, "--results-dir", str(tmp_path)]) == 2
        err = capsys.readouterr().err
        assert err.startswith("robustcheck: error: run record") and "Traceback" not in err
        assert "corrected_accuracy" in err or "suites.s" in err
    assert cli.main(["compare", "1", "1", "--results-dir", str(tmp_path)]) == 0


def test_compare_fail_duplicates_rejected():
    rejects(
        lambda: history.parse_tolerances("corrected_accuracy:0.02,corrected_accuracy:0.05"),
        "corrected_accuracy",
    )


# ---------------------------------------------------------------------------- good inputs are accepted
@corpus(40)
@given(
    seed=st.integers(0, 2**63 - 1),
    fpr=st.floats(0, 0.99),
    n_samples=st.one_of(st.none(), st.integers(1, 10**6)),
    eps=st.lists(st.floats(0, 1), min_size=1, max_size=3, unique=True),
    steps=st.integers(1, 500),
    alpha=st.one_of(st.none(), st.floats(1e-4, 1)),
    random_start=st.one_of(st.none(), st.booleans()),
    targeted=st.booleans(),
    bar=st.floats(0, 1),
    drop=st.floats(-1, 1),
    temperature=st.floats(0.01, 100),
)
def test_good_inputs_are_accepted(
    seed, fpr, n_samples, eps, steps, alpha, random_start, targeted, bar, drop, temperature
):
    if len({f"{e:g}" for e in eps}) != len(eps):
        return  # ε that print alike would give equal case ids
    s = suite(
        seed=seed,
        fpr=fpr,
        n_samples=n_samples,
        defences=["none", Defence("ae-kl", id="kl", temperature=temperature)],
        attacks=[
            Attack(
                "pgd-linf", eps=eps, steps=steps, alpha=alpha, random_start=random_start, targeted=targeted
            )
        ],
        thresholds=[
            Thresholds(corrected_accuracy=bar, clean_accuracy_drop=drop),
            Thresholds(defence="kl", eps=eps[0], detection_auc=bar),
            Thresholds(defence="none", threat="grey-box", corrected_accuracy=bar),
        ],
        scales={"smoke": Scale(n_samples=8, train_limit=None, classifier_epochs=1, defence_epochs=1)},
    )
    assert len(s.cases()) == 2 * len(eps)


def test_good_files_are_accepted(tmp_path):
    b = tmp_path / "baseline.json"
    b.write_text(json.dumps(GOOD_BASELINE))
    ref = history.load_baseline(b)
    assert ref.case("s", CASE) == {"corrected_accuracy": 0.8, "detection_auc": None}
    legacy = {k: v for k, v in GOOD_BASELINE.items() if k != "schema"}  # older files had no schema field
    b.write_text(json.dumps(legacy))
    history.load_baseline(b)
    r = tmp_path / "0001_20260101T000000Z.json"
    r.write_text(json.dumps(GOOD_RECORD))
    assert history.load_run(r)["suites"]["s"][CASE]["outcome"] == "passed"


def test_good_edge_values_are_accepted():
    """The edges of what is allowed: ε = 0 and 1 for L∞, large L2 ε, seed 0 and 2**63 - 1, bars at the ends of
    their range, a detection bar over a mix of detectors and non-detectors."""
    Attack("pgd-linf", eps=[0.0, 1.0])
    Attack("pgd-l2", eps=5.0)
    suite(seed=0)
    suite(seed=2**63 - 1)
    Thresholds(corrected_accuracy=0.0, clean_accuracy_drop=-1.0, auc_all_from_chance=0.5, threshold=-3.0)
    suite(thresholds=[Thresholds(detection_auc=0.8)])  # applies to ae-kl, the detector among the cases
    suite(
        attacks=[Attack("fgsm", eps=0.1), Attack("pgd-linf", eps=0.1)],
        families={"f": ["fgsm", "pgd-linf"]},
        thresholds=[Thresholds(attack="f", worst_case_corrected_accuracy=0.5)],
    )
    assert math.isclose(Thresholds(eps=0.1, corrected_accuracy=0.5).eps, 0.1)


def test_l2_eps_beyond_the_box_and_unknown_evaluate_arguments(tmp_path):
    """Left over from item 1: the L2 bound needs the data's shape (checked by the engine), and the library
    entry point names an unknown keyword instead of raising TypeError."""
    import robustcheck.api as api
    from robustcheck.engine import Engine

    eng = Engine(device="cpu", scale="smoke", cache_dir=str(tmp_path))
    with pytest.raises(ConfigError, match=r"L2 ε = 9, larger than √d = 8"):
        api.evaluate("none", "pgd-l2", eps=9.0, engine=eng, dataset="digits-8x8", classifier="shape-cnn")
    with pytest.raises(ConfigError, match=r"unknown argument\(s\) 'epz'"):
        api.evaluate("none", "fgsm", eps=0.1, engine=eng, epz=0.2)
