"""Drift check (001 §4.4) on the embedded MNIST: ``ae-kl``'s score on corrupted digits.

Run: ``OMP_NUM_THREADS=1 pytest suites/drift.py --robustcheck -s`` (skipped without ``--robustcheck``).
Uses the classifier and the ``ae-kl`` of ``suites/kl_family.py`` (same scale, shared through the cache)
and prints the report of :func:`robustcheck.drift.drift_report` for 9 corruptions × 5 severities.

Bars (measured numbers in docs/drift.md): for every corruption and severity with at least
``MIN_HARMFUL`` harmful instances, mean harmful / not-harmful score ratio ≥ ``RATIO_BAR`` and
KS p-value ≤ ``P_BAR``.
"""

from __future__ import annotations

import pytest

from robustcheck.drift import drift_report, format_drift
from robustcheck.plugin import session_key
from robustcheck.suite import Attack, Case, Defence, Suite

MIN_HARMFUL = 10
RATIO_BAR = 2.0  # lowest measured ratio among rows with >= 10 harmful, minus margin (docs/drift.md)
P_BAR = 1e-3  # highest measured p-value among those rows was far below; see docs/drift.md


def test_drift_ae_kl(request: pytest.FixtureRequest) -> None:
    if not request.config.getoption("robustcheck"):
        pytest.skip("run with --robustcheck")
    from suites.kl_family import SUITE as FAMILY

    suite = Suite(name="mnist-drift", attacks=[Attack("fgsm", eps=0.1)], defences=["ae-kl"],
                  scales=dict(FAMILY.scales), seed=FAMILY.seed, fpr=FAMILY.fpr)
    engine = request.config.stash[session_key].engine
    clf = engine.classifier(suite).module
    defence, _ = engine.defence(suite, Case(suite, Defence("ae-kl"), suite.attacks[0], 0.1, "grey-box"))
    test = engine.data(suite).test
    x, y = test.x.to(engine.device), test.y.to(engine.device)
    rows = drift_report(clf, defence.score, x, y, seed=suite.seed)
    print("\n" + format_drift(rows))
    failures = [
        f"{r.corruption} severity {r.severity}: ratio {r.ratio:.3g} (bar >= {RATIO_BAR}), KS p {r.ks_pvalue:.3g} "
        f"(bar <= {P_BAR})"
        for r in rows
        if r.n_harmful >= MIN_HARMFUL and not (r.ratio >= RATIO_BAR and r.ks_pvalue <= P_BAR)
    ]
    assert not failures, "drift bars missed:\n" + "\n".join(failures)
