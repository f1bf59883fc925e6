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
# noisy to gate), from the run in docs/drift.md: ratio >= 0.8 × measured (rounded down to 0.1) where the
# measured ratio is >= 1.5, else no ratio bar; KS p <= 100 × measured rounded up to a power of ten,
# clamped to [1e-6, 0.05]. (ratio bar or None, p bar)
BARS: dict[tuple[str, int], tuple[float | None, float]] = {
    ("impulse_noise", 3): (12.5, 1e-06),  # ratio 15.7, p 2.9e-17, n_harmful 28
    ("impulse_noise", 4): (10.0, 1e-06),  # ratio 12.5, p 3.75e-42, n_harmful 62
    ("impulse_noise", 5): (9.6, 1e-06),  # ratio 12.0, p 1.6e-54, n_harmful 87
    ("gaussian_blur", 5): (4.3, 1e-06),  # ratio 5.4, p 4.42e-15, n_harmful 24
    ("box_blur", 1): (5.3, 1e-06),  # ratio 6.66, p 1.41e-13, n_harmful 20
    ("box_blur", 2): (1.9, 1e-06),  # ratio 2.45, p 8.97e-18, n_harmful 92
    ("box_blur", 3): (1.2, 1e-06),  # ratio 1.56, p 3.67e-21, n_harmful 259
    ("box_blur", 4): (None, 1e-05),  # ratio 1.14, p 2.85e-08, n_harmful 456
    ("box_blur", 5): (None, 5e-02),  # ratio 1.12, p 0.000107, n_harmful 653
    ("brightness", 3): (3.1, 1e-06),  # ratio 3.9, p 1.55e-38, n_harmful 78
    ("brightness", 4): (2.2, 1e-06),  # ratio 2.81, p 1.89e-115, n_harmful 321
    ("brightness", 5): (1.6, 1e-06),  # ratio 2.11, p 1.09e-106, n_harmful 644
    ("contrast", 4): (None, 5e-02),  # ratio 1.22, p 0.00158, n_harmful 27
    ("contrast", 5): (None, 5e-02),  # ratio 0.82, p 0.000589, n_harmful 202
    ("pixelate", 2): (4.6, 1e-06),  # ratio 5.77, p 4.39e-20, n_harmful 38
    ("pixelate", 3): (2.9, 1e-06),  # ratio 3.68, p 9.93e-39, n_harmful 169
    ("pixelate", 4): (1.3, 1e-06),  # ratio 1.74, p 1.76e-21, n_harmful 233
    ("pixelate", 5): (None, 1e-06),  # ratio 1.46, p 3.05e-16, n_harmful 435
}


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
    failures = []
    for r in rows:
        if (r.corruption, r.severity) not in BARS:
            continue
        ratio_bar, p_bar = BARS[(r.corruption, r.severity)]
        if (ratio_bar is not None and not r.ratio >= ratio_bar) or not r.ks_pvalue <= p_bar:
            failures.append(f"{r.corruption} severity {r.severity}: ratio {r.ratio:.3g} (bar >= {ratio_bar}), "
                            f"KS p {r.ks_pvalue:.3g} (bar <= {p_bar:g})")
    assert not failures, "drift bars missed:\n" + "\n".join(failures)
