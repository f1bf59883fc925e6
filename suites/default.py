"""The default suite: embedded MNIST-5k, the KL paper's classifier (A.1), CPU-sized.

Run: ``pytest --robustcheck suites/`` (``--robustcheck-scale=smoke`` for a quick look).

Bars. Every bar below comes from a measured run (``pytest --robustcheck suites/`` at scale
``default``, CPU, torch 2.15, seed 0; record 0001 of 2026-11-24) minus a stated margin:
- corrected_accuracy: measured − 0.05, rounded down to 0.01 (n = 500 test digits, so one binomial
  standard error is ≤ 0.022; the margin is ~2 SE). Cases measured below 0.10 get no corrected-accuracy
  bar: a bar near 0 could not fail.
- detection_auc: the defence's lowest measured AUC over its cases − 0.03.
- clean_accuracy_drop: measured + 0.02; clean_accuracy: measured 0.968 − 0.04.
Smoke scale (64 digits, 3 classifier epochs) only gates clean accuracy: measured 0.766 − 0.11 (≈2 SE).
Budget violations are always gated at 0 by the engine.
"""

from __future__ import annotations

from robustcheck import Attack, Suite, Thresholds

D = "default"

SUITE = Suite(
    name="mnist-default",
    dataset="mnist-embedded",
    classifier="mnist-cnn",
    defences=["none", "ae-kl", "ae-mse"],
    attacks=[
        Attack("fgsm", eps=[0.1, 0.2, 0.3]),
        Attack("pgd-linf", eps=[0.1, 0.3], steps=40),
        # detector-aware (adaptive) attacks: success = misclassified and not flagged and within budget
        Attack("sigma-pgd", eps=0.1, sigma=0.5, steps=40),  # 004 eq 6.6
        Attack("cw-detector", eps=0.1, kappa=10.0, steps=40),  # Carlini & Wagner 2017 extra-class logit
        Attack("bim-recon", eps=0.1, beta=1.0, steps=40),  # 004 eq 7.15 (counter-attack B)
    ],
    # per-example worst case over every L∞ attack at their common ε (0.1)
    families={"linf": ["fgsm", "pgd-linf", "sigma-pgd", "cw-detector", "bim-recon"]},
    threat_models=["grey-box", "white-box"],
    seed=0,
    fpr=0.05,
    thresholds=[
        Thresholds(scale="smoke", clean_accuracy=0.65),  # measured 0.766
        Thresholds(scale=D, clean_accuracy=0.93),  # measured 0.968
        Thresholds(scale=D, defence="ae-kl", detection_auc=0.89, clean_accuracy_drop=0.02),  # min 0.923; -0.002
        Thresholds(scale=D, defence="ae-mse", detection_auc=0.88, clean_accuracy_drop=0.06),  # min 0.914; 0.034
        # undefended classifier (the grey-box and white-box sets are the same for it)
        Thresholds(scale=D, defence="none", attack="fgsm", eps=0.1, corrected_accuracy=0.77),  # measured 0.830
        Thresholds(scale=D, defence="none", attack="fgsm", eps=0.2, corrected_accuracy=0.45),  # measured 0.506
        Thresholds(scale=D, defence="none", attack="fgsm", eps=0.3, corrected_accuracy=0.12),  # measured 0.174
        Thresholds(scale=D, defence="none", attack="pgd-linf", eps=0.1, corrected_accuracy=0.71),  # measured 0.762
        # ae-kl
        Thresholds(scale=D, defence="ae-kl", attack="fgsm", eps=0.1, threat="grey-box", corrected_accuracy=0.84),  # 0.892
        Thresholds(scale=D, defence="ae-kl", attack="fgsm", eps=0.1, threat="white-box", corrected_accuracy=0.57),  # 0.630
        Thresholds(scale=D, defence="ae-kl", attack="fgsm", eps=0.2, threat="grey-box", corrected_accuracy=0.61),  # 0.662
        Thresholds(scale=D, defence="ae-kl", attack="fgsm", eps=0.2, threat="white-box", corrected_accuracy=0.06),  # 0.118
        Thresholds(scale=D, defence="ae-kl", attack="fgsm", eps=0.3, threat="grey-box", corrected_accuracy=0.26),  # 0.310
        Thresholds(scale=D, defence="ae-kl", attack="pgd-linf", eps=0.1, threat="grey-box", corrected_accuracy=0.82),  # 0.870
        Thresholds(scale=D, defence="ae-kl", attack="pgd-linf", eps=0.1, threat="white-box", corrected_accuracy=0.41),  # 0.464
        Thresholds(scale=D, defence="ae-kl", attack="pgd-linf", eps=0.3, threat="grey-box", corrected_accuracy=0.07),  # 0.122
        # ae-mse
        Thresholds(scale=D, defence="ae-mse", attack="fgsm", eps=0.1, threat="grey-box", corrected_accuracy=0.82),  # 0.874
        Thresholds(scale=D, defence="ae-mse", attack="fgsm", eps=0.1, threat="white-box", corrected_accuracy=0.60),  # 0.656
        Thresholds(scale=D, defence="ae-mse", attack="fgsm", eps=0.2, threat="grey-box", corrected_accuracy=0.64),  # 0.692
        Thresholds(scale=D, defence="ae-mse", attack="fgsm", eps=0.2, threat="white-box", corrected_accuracy=0.24),  # 0.296
        Thresholds(scale=D, defence="ae-mse", attack="fgsm", eps=0.3, threat="grey-box", corrected_accuracy=0.34),  # 0.394
        Thresholds(scale=D, defence="ae-mse", attack="pgd-linf", eps=0.1, threat="grey-box", corrected_accuracy=0.82),  # 0.872
        Thresholds(scale=D, defence="ae-mse", attack="pgd-linf", eps=0.1, threat="white-box", corrected_accuracy=0.47),  # 0.522
        Thresholds(scale=D, defence="ae-mse", attack="pgd-linf", eps=0.3, threat="grey-box", corrected_accuracy=0.25),  # 0.304
    ],
)
