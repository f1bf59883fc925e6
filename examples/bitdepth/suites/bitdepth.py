"""The example defence's own suite: bit-depth reduction vs the undefended classifier.

The defence is passed as a class (registration way 3); once the package is installed the name
"bitdepth" works too. Bars are measured values (2026-11-24, CPU, seed 0) minus a margin of about two binomial
standard errors: 0.10 at scale smoke (64 digits), 0.05 at scale default (500 digits).
"""

from __future__ import annotations

from bitdepth_defence import BitDepthPurifier

from robustcheck import Attack, Defence, Suite, Thresholds

SUITE = Suite(
    name="bitdepth",
    dataset="mnist-embedded",
    classifier="mnist-cnn",
    defences=["none", Defence(BitDepthPurifier, id="bitdepth-2", bits=2)],
    attacks=[Attack("fgsm", eps=[0.1, 0.3]), Attack("pgd-linf", eps=0.1, steps=40)],
    threat_models=["grey-box", "white-box"],
    thresholds=[
        Thresholds(
            defence="bitdepth-2", clean_accuracy_drop=0.02
        ),  # measured 0.000 (smoke), -0.002 (default)
        # smoke: measured 0.703 / 0.719 / 0.688
        Thresholds(scale="smoke", defence="bitdepth-2", attack="fgsm", eps=0.1, corrected_accuracy=0.60),
        Thresholds(
            scale="smoke",
            defence="bitdepth-2",
            attack="pgd-linf",
            eps=0.1,
            threat="grey-box",
            corrected_accuracy=0.61,
        ),
        Thresholds(
            scale="smoke",
            defence="bitdepth-2",
            attack="pgd-linf",
            eps=0.1,
            threat="white-box",
            corrected_accuracy=0.58,
        ),
        # default: measured 0.906 / 0.904 / 0.904
        Thresholds(scale="default", defence="bitdepth-2", attack="fgsm", eps=0.1, corrected_accuracy=0.85),
        Thresholds(
            scale="default", defence="bitdepth-2", attack="pgd-linf", eps=0.1, corrected_accuracy=0.85
        ),
    ],
)
