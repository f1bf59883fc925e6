"""The engine runs a minimisation attack (DeepFool, CW) once for the whole ε list of an Attack and
projects the result per ε (issue 3, ε semantics)."""

from __future__ import annotations

from robustcheck import Attack, Scale, Suite
from robustcheck.attacks import ATTACKS
from robustcheck.engine import Engine
from robustcheck.evaluate import evaluate as evaluate_case

TINY = {
    s: Scale(n_samples=32, train_limit=1200, classifier_epochs=3, defence_epochs=1, attack_steps=10)
    for s in ("smoke", "default", "paper")
}


def test_minimisation_attack_runs_once_and_is_projected_per_eps(monkeypatch):
    cls = ATTACKS.get("deepfool")
    calls = []
    original = cls.run

    def counting_run(self, model, x, y, eps, target):
        calls.append(eps)
        return original(self, model, x, y, eps, target)

    monkeypatch.setattr(cls, "run", counting_run)
    suite = Suite(
        name="tiny-min", defences=["none"], attacks=[Attack("deepfool", eps=[0.5, 1.0, 20.0])], scales=TINY
    )
    engine = Engine(device="cpu", scale="smoke", cache_dir=None)
    results = {c.eps: evaluate_case(engine, c) for c in suite.cases()}
    assert calls == [None]  # one batch, one run, no ε passed to a minimisation attack
    for eps, res in results.items():
        assert res.metrics["budget_violations"] == 0
        assert res.metrics["l2_max"] <= eps + 1e-4
    # larger ε never lowers the success of the same (projected) perturbations
    rates = [results[e].metrics["attack_success_rate"] for e in (0.5, 1.0, 20.0)]
    assert rates == sorted(rates) and rates[-1] > rates[0]
