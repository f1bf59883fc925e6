"""Attack-failure indicators (issue 12, items 6, 9 and 13): each indicator as a pure function, and each
engine-level indicator on tiny models and data, with canaries that must raise it."""

from __future__ import annotations

import math

import pytest
import torch
from torch import Tensor, nn

from robustcheck import Attack, Scale, Suite
from robustcheck import indicators as I
from robustcheck import probes as AE
from robustcheck.attacks import ATTACKS
from robustcheck.attacks.base import BaseAttack
from robustcheck.defences.base import BaseDefence
from robustcheck.engine import Engine
from robustcheck.evaluate import evaluate as evaluate_case
from robustcheck.suite import Case
from tests.helpers import trained_tiny

TINY = {
    s: Scale(n_samples=48, train_limit=300, classifier_epochs=1, defence_epochs=1, attack_steps=5)
    for s in ("smoke", "default", "paper")
}


# ---------------------------------------------------------------------------- pure functions
def test_unbounded_eps_is_the_diameter_of_the_input_box():
    assert I.unbounded_eps("linf", (1, 28, 28)) == 1.0
    assert I.unbounded_eps("l2", (1, 28, 28)) == pytest.approx(28.0)
    assert I.unbounded_eps("l2", (3, 32, 32)) == pytest.approx(math.sqrt(3 * 32 * 32))  # CIFAR: not 28


def test_unbounded_probe_starts_from_the_test_inputs(monkeypatch):
    """The unbounded-PGD probe builds PGD without a random start (a uniform-noise start measures noise)."""
    seen = {}
    real = AE.build_attack

    def spy(name, params, **kw):
        if name.startswith("pgd-"):
            seen.setdefault(name, []).append(dict(params))
        return real(name, params, **kw)

    monkeypatch.setattr(AE, "build_attack", spy)
    model, _, _ = trained_tiny(n=200, epochs=1)
    engine = Engine(device="cpu", scale="smoke", cache_dir=None)
    suite = Suite(
        name="unb",
        classifier=lambda: model,
        attacks=[Attack("pgd-l2", eps=1.0)],
        threat_models=["white-box"],
        scales=TINY,
    )
    evaluate_case(engine, suite.cases()[0])
    [probe] = [p for p in seen["pgd-l2"] if p.get("steps") == AE.UNBOUNDED_STEPS]
    assert probe.get("random_start") is False


def test_score_gradient_health_flags_a_quantised_score():
    x = torch.rand(16, 1, 28, 28)
    zero, nan = I.score_gradient_health(lambda t: (torch.round(t * 7) / 7).flatten(1).mean(1), x)
    assert zero == 1.0 and not nan and I.shattered(zero, nan) == 1.0
    zero, nan = I.score_gradient_health(lambda t: t.flatten(1).mean(1), x)
    assert zero == 0.0 and I.shattered(zero, nan) == 0.0
    zero, nan = I.score_gradient_health(lambda t: t.flatten(1).mean(1) * float("nan"), x)
    assert nan and I.shattered(zero, nan) == 1.0


def test_noise_as_strong():
    assert I.noise_as_strong(0.95, 0.70, 0.95, 64) == 1.0  # noise beats the attack: broken
    assert (
        I.noise_as_strong(0.90, 0.92, 0.95, 64) == 0.0
    )  # both do little: robust or broken, left to other probes
    assert I.noise_as_strong(0.30, 0.92, 0.95, 64) == 0.0  # attack clearly stronger
    assert I.noise_as_strong(0.05, 0.20, 0.95, 64) is None  # noise itself destroys accuracy: no verdict
    assert I.noise_as_strong(None, 0.9, 0.95, 64) is None


def test_inconclusive_reasons_name_the_indicator_and_the_fix():
    m = {
        "gradient_masking": 1.0,
        "shattered_gradients": 1.0,
        "unbounded_not_zero": 0.0,
        "silent_success": None,
        "eps_nonmonotone": 0.0,
    }
    r = I.inconclusive_reasons(m)
    assert list(r) == ["shattered_gradients"]  # gradient_masking is reported through its raised part
    assert "bpda_surrogate" in r["shattered_gradients"] and "stochastic = True" in r["shattered_gradients"]
    assert I.inconclusive_reasons({"noise_as_strong": 1.0, "adaptive_weaker": 1.0}).keys() == {
        "noise_as_strong",
        "adaptive_weaker",
    }
    assert I.inconclusive_reasons({"iterative_weaker": float("nan")}).keys() == {"iterative_weaker"}
    assert I.inconclusive_reasons({"budget_violations": 0.0, "eps_nonmonotone": 0.0}) == {}
    assert I.gradient_masking(0.0, 0.0, None, 1.0) == 1.0  # the score path counts


# ---------------------------------------------------------------------------- family quantities
class _Det(BaseDefence):
    name = "det"
    is_detector = True

    def score(self, x: Tensor) -> Tensor:
        return x.flatten(1).mean(1)


def _family_engine(monkeypatch, metrics_by_case, detector):
    """An engine whose base metrics are given (black-box cases: only the family indicators run)."""
    engine = Engine(device="cpu", scale="smoke", cache_dir=None)
    suite = Suite(
        name="fam",
        attacks=[Attack("fgsm", eps=[0.1, 0.3]), Attack("pgd-linf", eps=0.3)],
        threat_models=["black-box"],
        scales=TINY,
    )
    n = 100
    monkeypatch.setattr(engine, "base_metrics", lambda c: metrics_by_case[(c.attack.name, c.eps)])
    monkeypatch.setattr(
        engine, "case_inputs", lambda c: (torch.zeros(n, 1, 28, 28), torch.zeros(n).long(), None)
    )
    monkeypatch.setattr(engine, "defence", lambda s, c: (_Det() if detector else BaseDefence(), "k"))
    return engine, {c.id: c for c in suite.cases()}


def _m(corrected, defended, asr, threshold=0.5):
    return {
        "corrected_accuracy": corrected,
        "defended_rate": defended,
        "adaptive_success_rate": asr,
        "clean_accuracy": 1.0,
        "threshold": threshold,
    }


def test_eps_monotonicity_on_a_detector_compares_adaptive_success_not_defended_rate(monkeypatch):
    # a detector flags more as ε grows: defended_rate rises legitimately, while success also rises
    m = {
        ("fgsm", 0.1): _m(0.6, 0.50, 0.30),
        ("fgsm", 0.3): _m(0.2, 0.90, 0.40),
        ("pgd-linf", 0.3): _m(0.1, 0.9, 0.5),
    }
    engine, cases = _family_engine(monkeypatch, m, detector=True)
    assert AE.indicators(engine, cases["none|fgsm|eps=0.3|black-box"])["eps_nonmonotone"] == 0.0
    # success falling with ε is the failure
    m[("fgsm", 0.3)] = _m(0.2, 0.90, 0.05)
    assert AE.indicators(engine, cases["none|fgsm|eps=0.3|black-box"])["eps_nonmonotone"] == 1.0


def test_eps_monotonicity_without_detector_compares_corrected_accuracy(monkeypatch):
    m = {
        ("fgsm", 0.1): _m(0.5, 0.5, 0.5, None),
        ("fgsm", 0.3): _m(0.8, 0.8, 0.2, None),
        ("pgd-linf", 0.3): _m(0.1, 0.1, 0.9, None),
    }
    engine, cases = _family_engine(monkeypatch, m, detector=False)
    assert AE.indicators(engine, cases["none|fgsm|eps=0.3|black-box"])["eps_nonmonotone"] == 1.0


def test_iterative_vs_single_step_on_a_detector_compares_adaptive_success(monkeypatch):
    # PGD gets more x' misclassified and unflagged than FGSM, though more of them are flagged too
    m = {
        ("fgsm", 0.1): _m(0.6, 0.5, 0.3),
        ("fgsm", 0.3): _m(0.4, 0.60, 0.30),
        ("pgd-linf", 0.3): _m(0.1, 0.95, 0.50),
    }
    engine, cases = _family_engine(monkeypatch, m, detector=True)
    assert AE.indicators(engine, cases["none|pgd-linf|eps=0.3|black-box"])["iterative_weaker"] == 0.0
    m[("pgd-linf", 0.3)] = _m(0.1, 0.95, 0.05)
    assert AE.indicators(engine, cases["none|pgd-linf|eps=0.3|black-box"])["iterative_weaker"] == 1.0


# ---------------------------------------------------------------------------- engine-level on tiny models
@pytest.fixture(scope="module")
def tiny_model():
    model, _, _ = trained_tiny(n=1000, epochs=3)
    return model


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    return Engine(device="cpu", scale="smoke", cache_dir=str(tmp_path_factory.mktemp("ind-cache")))


class QuantisedScoreDetector(BaseDefence):
    """Canary: a detector whose score reads a quantised input: zero score gradient everywhere."""

    name = "quantised-score"
    is_detector = True

    def score(self, x: Tensor) -> Tensor:
        return (torch.round(x * 7) / 7).flatten(1).mean(1)


class SmoothScoreDetector(QuantisedScoreDetector):
    name = "smooth-score"

    def score(self, x: Tensor) -> Tensor:
        return x.flatten(1).mean(1)


class DarkDetector(QuantisedScoreDetector):
    """Flags dark inputs (score = −mean pixel): oblivious L∞ PGD, which brightens MNIST, is never flagged."""

    name = "dark-score"

    def score(self, x: Tensor) -> Tensor:
        return -x.flatten(1).mean(1)


class Unmoved(BaseAttack):
    """Canary: a broken attack that returns x unchanged (random noise is as strong)."""

    name = "test-unmoved"

    def run(self, model: nn.Module, x: Tensor, y: Tensor, eps: float | None, target: Tensor | None) -> Tensor:
        return x.clone()


class Helpful(BaseAttack):
    """Canary: a broken attack with a sign error: it *descends* the loss, so random noise beats it."""

    name = "test-helpful"

    def run(self, model: nn.Module, x: Tensor, y: Tensor, eps: float | None, target: Tensor | None) -> Tensor:
        xr = x.clone().requires_grad_(True)
        with torch.enable_grad():
            (g,) = torch.autograd.grad(nn.functional.cross_entropy(model(xr), y), xr)
        return (x - eps * g.sign()).clamp(0, 1)


class UnmovedAdaptive(Unmoved):
    """Canary: a detector-aware attack that does nothing (weaker than oblivious PGD)."""

    name = "test-unmoved-adaptive"
    detector_aware = True

    def __init__(
        self, *, steps: int = 10, targeted: bool = False, seed: int = 0, batch_size: int = 250
    ) -> None:
        super().__init__(targeted=targeted, seed=seed, batch_size=batch_size)


@pytest.fixture
def test_attacks():
    for cls in (Unmoved, UnmovedAdaptive, Helpful):
        ATTACKS.register(cls.name, replace=True)(cls)
    yield
    for cls in (Unmoved, UnmovedAdaptive, Helpful):
        ATTACKS._entries.pop(cls.name, None)
        ATTACKS._origins.pop(cls.name, None)


def _suite(model, defences, attacks, threat="white-box", name="canary"):
    return Suite(
        name=name,
        classifier=lambda: model,
        defences=defences,
        attacks=attacks,
        threat_models=[threat],
        scales=TINY,
    )


def test_score_path_probe_flags_a_quantised_detector_score(tiny_model, engine):
    suite = _suite(tiny_model, [QuantisedScoreDetector, SmoothScoreDetector], [Attack("pgd-linf", eps=0.2)])
    res = {c.defence.id: evaluate_case(engine, c) for c in suite.cases()}
    bad, good = res["quantised-score"], res["smooth-score"]
    assert bad.metrics["shattered_score_gradients"] == 1.0 and bad.metrics["gradient_masking"] == 1.0
    assert bad.status == "inconclusive" and not bad.passed
    assert any("shattered_score_gradients" in f for f in bad.failures)
    assert good.metrics["shattered_score_gradients"] == 0.0
    assert bad.metrics["shattered_gradients"] == 0.0  # the label path alone sees nothing wrong


def test_noise_as_strong_flags_an_attack_weaker_than_noise(tiny_model, engine, test_attacks):
    suite = _suite(
        tiny_model,
        ["none"],
        [Attack("test-helpful", eps=0.3), Attack("test-unmoved", eps=0.3), Attack("pgd-linf", eps=0.3)],
        threat="grey-box",
        name="noise",
    )
    res = {c.attack.id: evaluate_case(engine, c) for c in suite.cases()}
    assert res["test-helpful"].metrics["noise_as_strong"] == 1.0, res["test-helpful"].metrics
    assert res["test-helpful"].status == "inconclusive"
    assert res["pgd-linf"].metrics["noise_as_strong"] == 0.0
    # an attack that does nothing is not *weaker* than noise unless noise hurts beyond sampling noise
    unmoved = res["test-unmoved"].metrics
    expect = float(
        unmoved["clean_accuracy"] > unmoved["noise_accuracy"] + I.tolerance(unmoved["noise_accuracy"], 64)
    )
    assert unmoved["noise_as_strong"] in (None, expect)


def test_adaptive_weaker_than_oblivious_pgd_is_flagged(tiny_model, engine, test_attacks):
    suite = _suite(
        tiny_model, [DarkDetector], [Attack("test-unmoved-adaptive", eps=0.3, steps=5)], name="adaptive"
    )
    [case] = suite.cases()
    res = evaluate_case(engine, case)
    broken = res.metrics
    assert broken["adaptive_weaker"] == 1.0
    assert broken["defended_rate"] > broken["oblivious_defended_rate"]
    assert res.status == "inconclusive" and any("adaptive_weaker" in f for f in res.failures)
    # the oblivious sibling is PGD-L∞ with the adaptive attack's steps, at the same ε and FPR
    pgd = Suite(
        name="adaptive",
        classifier=suite.classifier,
        defences=[DarkDetector],
        attacks=[Attack("pgd-linf", eps=0.3, steps=5)],
        threat_models=["white-box"],
        scales=TINY,
    )
    assert engine.base_metrics(pgd.cases()[0])["defended_rate"] == broken["oblivious_defended_rate"]


class _Reverse(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x.view_as(x)

    @staticmethod
    def backward(ctx, g):
        return -g


class ReversedGradient(nn.Module):
    """Canary: the classifier with its input gradient negated (forward unchanged): gradient attacks walk
    the wrong way, a query attack does not care."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: Tensor) -> Tensor:
        return self.model(_Reverse.apply(x))


def test_blackbox_probe_flags_a_misleading_gradient_in_two_stages(tiny_model, engine):
    """Square (gradient-free) beats PGD on a model whose gradient points the wrong way: the staged probe
    runs Square on its first 16 rows, finds it ahead and runs the other 48 (64 in all); on the honest model
    Square is not ahead on the first 16 rows and the probe stops there."""
    masked = ReversedGradient(tiny_model).eval()

    def suite(model, name):
        return Suite(
            name=name,
            classifier=lambda: model,
            defences=["none"],
            attacks=[Attack("pgd-linf", eps=0.2)],
            threat_models=["grey-box"],
            scales=TINY,
            n_samples=64,
        )

    [bad_case] = suite(masked, "reversed").cases()
    [good_case] = suite(tiny_model, "honest").cases()
    bad, good = evaluate_case(engine, bad_case).metrics, evaluate_case(engine, good_case).metrics
    assert bad["blackbox_rows"] == 64 and bad["blackbox_beats_whitebox"] == 1.0, bad
    assert bad["blackbox_accuracy"] < bad["corrected_accuracy"]
    assert good["blackbox_beats_whitebox"] == 0.0
    assert good["blackbox_rows"] == 16, good


class ReversingPurifier(BaseDefence):
    """Canary: a purifier that returns its input unchanged but negates the gradient through it. The
    classifier alone (grey-box) is attacked as usual and its x′ pass the purifier untouched; the white-box
    attack through the purifier walks the wrong way."""

    name = "reversing-purifier"
    is_purifier = True

    def purify(self, x: Tensor) -> Tensor:
        return _Reverse.apply(x)


class IdentityPurifier(ReversingPurifier):
    name = "identity-purifier"

    def purify(self, x: Tensor) -> Tensor:
        return x * 1.0


def test_whitebox_weaker_than_greybox_is_flagged(tiny_model, engine):
    """A white-box attacker can always play the grey-box x′: a white-box case weaker than its grey-box
    sibling beyond noise is an attack failure (the white-box number would be optimistic)."""
    suite = Suite(
        name="wb-vs-gb",
        classifier=lambda: tiny_model,
        defences=[ReversingPurifier, IdentityPurifier],
        attacks=[Attack("pgd-linf", eps=0.2)],
        threat_models=["white-box"],  # the grey-box sibling is computed on demand
        scales=TINY,
    )
    cases = {c.defence.id: c for c in suite.cases()}
    res = {k: evaluate_case(engine, c) for k, c in cases.items()}
    bad, good = res["reversing-purifier"], res["identity-purifier"]
    c = cases["reversing-purifier"]
    grey = engine.base_metrics(Case(suite, c.defence, c.attack, c.eps, "grey-box"))
    assert bad.metrics["whitebox_weaker"] == 1.0, (bad.metrics, grey)
    assert bad.metrics["corrected_accuracy"] > grey["corrected_accuracy"]
    assert bad.status == "inconclusive" and any("whitebox_weaker" in f for f in bad.failures)
    assert good.metrics["whitebox_weaker"] == 0.0
