"""End to end on a small MNIST subset with a tiny training budget; metrics recomputed independently."""

from __future__ import annotations

import pytest
import torch
from sklearn.metrics import roc_auc_score
from torch import nn

from robustcheck import Attack, Scale, Suite, Thresholds
from robustcheck.engine import Engine
from robustcheck.errors import ConfigError, ModelContractError
from robustcheck.evaluate import evaluate as evaluate_case
from robustcheck.suite import Case
from tests.helpers import evaluate_suite

TINY = {
    s: Scale(n_samples=48, train_limit=400, classifier_epochs=2, defence_epochs=1, attack_steps=5)
    for s in ("smoke", "default", "paper")
}


def tiny_suite(**kw):
    base = {
        "name": "tiny",
        "defences": ["none", "ae-kl"],
        "attacks": [Attack("fgsm", eps=[0.1, 0.3]), Attack("pgd-linf", eps=0.2, steps=40)],
        "threat_models": ["grey-box", "white-box"],
        "scales": TINY,
    }
    base.update(kw)
    return Suite(**base)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return evaluate_suite(tmp_path_factory.mktemp("cache"), tiny_suite())


def test_metrics_recomputed_independently(run):
    engine, suite, results, _ = run
    case, res = results["ae-kl|fgsm|eps=0.3|grey-box"]
    data = engine.data(suite)
    clf = engine.classifier(suite).module
    defence, _ = engine.defence(suite, case)
    x, y = data.test.x[:48], data.test.y[:48]
    # recompute FGSM independently
    xr = x.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(nn.functional.cross_entropy(clf(xr), y, reduction="sum"), xr)
    x_adv = (x + 0.3 * g.sign()).clamp(0, 1)
    with torch.no_grad():
        p, pa = clf(x).argmax(1), clf(x_adv).argmax(1)
        s_clean, s_adv = defence.score(x), defence.score(x_adv)
        recon_pred = clf(defence.purify(x_adv)).argmax(1)
    m = res.metrics
    assert m["clean_accuracy"] == pytest.approx((p == y).float().mean().item())
    assert m["adversarial_accuracy"] == pytest.approx((pa == y).float().mean().item())
    succ = (p == y) & (pa != y)
    assert m["n_successful"] == succ.sum().item()
    labels = [0] * 48 + [1] * int(succ.sum())
    assert m["detection_auc"] == pytest.approx(
        roc_auc_score(labels, torch.cat([s_clean, s_adv[succ]]).numpy())
    )
    t = defence.threshold
    corrected = torch.where(s_adv > t, recon_pred, pa)
    assert m["corrected_accuracy"] == pytest.approx((corrected == y).float().mean().item())
    assert m["budget_violations"] == 0 and m["linf_max"] <= 0.3 + 1e-6


def test_grey_box_set_shared_and_white_box_differs(run):
    _engine, _suite, results, _ = run
    none_g = results["none|fgsm|eps=0.3|grey-box"][1].metrics
    kl_g = results["ae-kl|fgsm|eps=0.3|grey-box"][1].metrics
    assert none_g["adversarial_accuracy"] == kl_g["adversarial_accuracy"]
    assert none_g["l2_mean"] == kl_g["l2_mean"]
    kl_w = results["ae-kl|fgsm|eps=0.3|white-box"][1].metrics
    assert kl_w["l2_mean"] != kl_g["l2_mean"]  # crafted on C∘AE, not on C
    # the undefended model is identical under both threat models (whitebox_weaker: measured in white-box
    # only, and not raised)
    none_w, none_g = dict(results["none|fgsm|eps=0.3|white-box"][1].metrics), dict(none_g)
    assert none_w.pop("whitebox_weaker") == 0.0 and none_g.pop("whitebox_weaker") is None
    assert none_w == none_g


def test_scale_caps_attack_steps(run):
    engine, _suite, results, _ = run
    case = results["none|pgd-linf|eps=0.2|grey-box"][0]
    assert engine.attack_params(case)["steps"] == 5
    # a query attack keeps its query budget: 5 queries would make Square a no-op
    square = Case(
        suite := tiny_suite(attacks=[Attack("square", eps=0.1, steps=300)]),
        suite.defences[0],
        suite.attacks[0],
        0.1,
        "grey-box",
    )
    assert engine.attack_params(square)["steps"] == 300


def test_warm_run_reuses_disk_cache_and_gives_same_metrics(run):
    _engine, _suite, results, cache = run
    assert list((cache / "classifiers").glob("*.pt")) and list((cache / "defences").glob("*.pt"))
    fresh = Engine(device="cpu", scale="smoke", cache_dir=str(cache))
    case, res = results["ae-kl|pgd-linf|eps=0.2|white-box"]
    warm = evaluate_case(fresh, case).metrics
    assert warm.keys() == res.metrics.keys()
    for k, v in res.metrics.items():  # exactly equal; NaN (no detector successes) equal to NaN
        assert warm[k] == v or (v != v and warm[k] != warm[k]), k


def test_threshold_miss_reported(run):
    engine, _, _, _ = run
    suite = tiny_suite(
        thresholds=[Thresholds(corrected_accuracy=1.0), Thresholds(defence="ae-kl", detection_auc=0.0)]
    )
    res = evaluate_case(engine, suite.cases()[0])
    assert (
        res.failures
        and "corrected_accuracy" in res.failures[0]
        and "bar: corrected_accuracy >= 1" in res.failures[0]
    )


def test_classifier_with_nan_output_rejected(tmp_path):
    class NaNNet(nn.Module):
        def forward(self, x):
            return torch.full((x.shape[0], 10), float("nan"))

    engine = Engine(device="cpu", scale="smoke", cache_dir=str(tmp_path))
    suite = tiny_suite(classifier=NaNNet, defences=["none"])
    with pytest.raises(ModelContractError, match="NaN"):
        evaluate_case(engine, suite.cases()[0])


def test_classifier_with_wrong_class_count_rejected(tmp_path):
    engine = Engine(device="cpu", scale="smoke", cache_dir=str(tmp_path))
    suite = tiny_suite(classifier=lambda: nn.Sequential(nn.Flatten(), nn.Linear(784, 7)), defences=["none"])
    with pytest.raises(ModelContractError, match=r"returned shape \(8, 7\).*10 classes"):
        evaluate_case(engine, suite.cases()[0])


def test_classifier_returning_probabilities_is_an_error_unless_declared(tmp_path):
    engine = Engine(device="cpu", scale="smoke", cache_dir=str(tmp_path))

    def factory():
        torch.manual_seed(0)
        return nn.Sequential(nn.Flatten(), nn.Linear(784, 10), nn.Softmax(1))

    suite = tiny_suite(classifier=factory, defences=["none"], attacks=[Attack("fgsm", eps=0.1)])
    with pytest.raises(ModelContractError, match=r"returns probabilities.*outputs='probabilities'"):
        evaluate_case(engine, suite.cases()[0])
    declared = tiny_suite(
        classifier=factory, defences=["none"], attacks=[Attack("fgsm", eps=0.1)], outputs="probabilities"
    )
    res = evaluate_case(engine, declared.cases()[0])
    assert res.metrics["clean_accuracy"] is not None


def test_bad_device():
    with pytest.raises(ConfigError, match="device 'tpu' unknown"):
        Engine(device="tpu")


def test_warm_run_reads_stored_case_metrics_without_recomputing(run, monkeypatch):
    """An unchanged case is not recomputed at all on a warm run (issue 15, item 2): its stored metrics
    and detector scores come back exactly."""
    _engine, _suite, results, cache = run
    case, res = results["ae-kl|fgsm|eps=0.1|grey-box"]

    import robustcheck.evaluate as EV

    def boom(engine, case):
        raise AssertionError("recomputed an unchanged case")

    monkeypatch.setattr(EV, "_case_metrics", boom)
    fresh = Engine(device="cpu", scale="smoke", cache_dir=str(cache))
    warm = evaluate_case(fresh, case)
    assert {k for k, v in warm.metrics.items() if v == v} == {k for k, v in res.metrics.items() if v == v}
    assert all(torch.equal(warm.scores[k], res.scores[k].cpu()) for k in res.scores)


def test_stored_case_metrics_follow_the_users_code(tmp_path, monkeypatch):
    """The store's key holds the source of the user's classes: source that cannot be read (exec) is never
    stored, and readable source is."""
    from robustcheck.engine import user_source_digest

    ns: dict = {}
    exec("class Made:\n    pass\n", ns)
    assert user_source_digest([ns["Made"]]) is None
    assert user_source_digest([Engine]) == user_source_digest([])  # robustcheck's own: in the code version
    assert user_source_digest([tiny_suite]) is not None


def test_warm_family_case_is_read_not_recomputed(tmp_path, monkeypatch):
    """A family (worst-case) case is stored too: a warm run takes its metrics from disk."""
    import robustcheck.probes as AE

    suite = tiny_suite(
        defences=["none"],
        attacks=[Attack("fgsm", eps=0.1), Attack("pgd-linf", eps=0.1, steps=3)],
        threat_models=["grey-box"],
        families={"fam": ["fgsm", "pgd-linf"]},
    )
    [fam] = [c for c in suite.cases() if "family=" in c.id]
    cold = evaluate_case(Engine(device="cpu", scale="smoke", cache_dir=str(tmp_path)), fam).metrics

    def boom(engine, case):
        raise AssertionError("recomputed an unchanged family case")

    monkeypatch.setattr(AE, "family_metrics", boom)
    warm = evaluate_case(Engine(device="cpu", scale="smoke", cache_dir=str(tmp_path)), fam).metrics
    assert warm == pytest.approx(cold, nan_ok=True) and "worst_case_corrected_accuracy" in warm
