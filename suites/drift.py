"""Drift check (001 §4.4) on the embedded MNIST: ``ae-kl``'s score on corrupted digits.

Run: ``OMP_NUM_THREADS=1 pytest suites/drift.py --robustcheck -s`` (skipped without ``--robustcheck``).
Uses the classifier and the ``ae-kl`` of ``suites/kl_family.py`` (same scale, shared through the cache)
and prints the report of :func:`robustcheck.drift.drift_report` for 9 corruptions × 5 severities.

Bars (measured numbers in docs/drift.md): per corruption and severity with at least 20 harmful
instances, a minimum ratio of mean harmful / not-harmful score and a maximum KS p-value (``BARS``).
"""

from __future__ import annotations

import pytest

from robustcheck.drift import drift_report, format_drift
from robustcheck.plugin import session_key
from robustcheck.suite import Attack, Case, Defence, Suite

# Bars per (corruption, severity) with >= 20 harmful instances (fewer make the KS test and the ratio too
# noisy to gate), from two runs whose ae-kl differ only by training thread count (docs/drift.md: 1 thread;
# 2026-11-24 `pytest --robustcheck suites/`: 2 threads; both values in the comment): ratio >= 0.8 × the
# lower ratio (rounded down to 0.1) where it is >= 1.5, else no ratio bar; KS p <= 100 × the higher p
# rounded up to a power of ten, clamped to [1e-6, 0.05]. (ratio bar or None, p bar)
BARS: dict[tuple[str, int], tuple[float | None, float]] = {
    ("impulse_noise", 3): (12.5, 1e-06),  # ratio 15.7 / 17, p 2.9e-17 / 2.22e-23, n_harmful 28
    ("impulse_noise", 4): (10.0, 1e-06),  # ratio 12.5 / 13.8, p 3.75e-42 / 9.5e-43, n_harmful 62
    ("impulse_noise", 5): (9.6, 1e-06),  # ratio 12 / 12.1, p 1.6e-54 / 4.58e-52, n_harmful 87
    ("gaussian_blur", 5): (4.3, 1e-06),  # ratio 5.4 / 7.83, p 4.42e-15 / 6.63e-14, n_harmful 24
    ("box_blur", 1): (5.3, 1e-06),  # ratio 6.66 / 8.92, p 1.41e-13 / 1.5e-12, n_harmful 20
    ("box_blur", 2): (1.9, 1e-06),  # ratio 2.45 / 2.96, p 8.97e-18 / 7.61e-18, n_harmful 92
    ("box_blur", 3): (None, 1e-02),  # ratio 1.56 / 1.17, p 3.67e-21 / 1.22e-05, n_harmful 259
    ("box_blur", 4): (None, 1e-02),  # ratio 1.14 / 0.687, p 2.85e-08 / 6.92e-05, n_harmful 456
    ("box_blur", 5): (None, 5e-02),  # ratio 1.12 / 0.692, p 0.000107 / 1.19e-05, n_harmful 653
    ("brightness", 3): (1.3, 1e-06),  # ratio 3.9 / 1.71, p 1.55e-38 / 2.59e-12, n_harmful 78
    ("brightness", 4): (None, 1e-06),  # ratio 2.81 / 1.37, p 1.89e-115 / 2.65e-26, n_harmful 321
    ("brightness", 5): (None, 1e-06),  # ratio 2.11 / 1.25, p 1.09e-106 / 5.92e-37, n_harmful 644
    ("contrast", 4): (None, 5e-02),  # ratio 1.22 / 0.493, p 0.00158 / 0.00587, n_harmful 27
    ("contrast", 5): (None, 5e-02),  # ratio 0.82 / 0.617, p 0.000589 / 8.59e-09, n_harmful 202
    ("pixelate", 2): (3.5, 1e-06),  # ratio 5.77 / 4.48, p 4.39e-20 / 6.09e-15, n_harmful 38
    ("pixelate", 3): (2.9, 1e-06),  # ratio 3.68 / 3.75, p 9.93e-39 / 7.92e-41, n_harmful 169
    ("pixelate", 4): (None, 1e-06),  # ratio 1.74 / 1.48, p 1.76e-21 / 1.6e-14, n_harmful 233
    ("pixelate", 5): (None, 1e-06),  # ratio 1.46 / 1.51, p 3.05e-16 / 4.29e-26, n_harmful 435
}


def test_drift_ae_kl(request: pytest.FixtureRequest) -> None:
    if not request.config.getoption("robustcheck"):
        pytest.skip("run with --robustcheck")
    from suites.kl_family import SUITE as FAMILY

    suite = Suite(
        name="mnist-drift",
        attacks=[Attack("fgsm", eps=0.1)],
        defences=["ae-kl"],
        scales=dict(FAMILY.scales),
        seed=FAMILY.seed,
        fpr=FAMILY.fpr,
    )
    engine = request.config.stash[session_key].engine
    clf = engine.classifier(suite).module
    defence, _ = engine.defence(suite, Case(suite, Defence("ae-kl"), suite.attacks[0], 0.1, "grey-box"))
    test = engine.data(suite).test
    x, y = test.x.to(engine.device), test.y.to(engine.device)
    rows = drift_report(clf, defence.score, x, y, seed=suite.seed)
    print("\n" + format_drift(rows))
    failures = []
    for r in rows:
        if (r.corruption, r.severity) not in BARS:
            continue
        ratio_bar, p_bar = BARS[(r.corruption, r.severity)]
        if (ratio_bar is not None and not r.ratio >= ratio_bar) or not r.ks_pvalue <= p_bar:
            failures.append(
                f"{r.corruption} severity {r.severity}: ratio {r.ratio:.3g} (bar >= {ratio_bar}), "
                f"KS p {r.ks_pvalue:.3g} (bar <= {p_bar:g})"
            )
    assert not failures, "drift bars missed:\n" + "\n".join(failures)
