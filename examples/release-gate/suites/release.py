"""Release gate for DigitsCNN (``model.py``, weights ``artifacts/digits_cnn.pt``) on the team's digits.

What it evaluates: the model alone (``none``), with a 2-bit feature-squeezing detector and with the
KL autoencoder (``ae-kl``, trained here on the train split), under FGSM and 40-step PGD at
ε = 0.05 and 0.1 (L∞, in [0, 1] pixels: one grey level of these digits is 1/16 = 0.0625), grey-box
(x′ crafted on the model) and white-box (x′ crafted on the defended pipeline).

Why these choices: ε = 0.1 already halves the model's accuracy, larger ε leave nothing to compare.
Feature squeezing uses bit depth only: with its MNIST default (1 bit and a 2×2 median filter) the
median filter changes clean 8×8 digits about as much as an attack does and the detection AUC under
PGD ε = 0.1 was 0.75; 2 bits alone gave 0.98 (2026-11-26, full test split). The detector-aware
σ-PGD was tried against the squeezer and left out: at σ = 0.2–0.8 it found fewer undetected
adversarial digits than oblivious PGD (``adaptive_weaker``: the evaluation, not the detector, failed).

Scales (``SCALES``): ``smoke`` attacks 128 test digits with 10 attack steps and 10 training epochs
for ae-kl (a quick local look, ~10 s cold); ``default`` attacks all 368 test digits with 40 steps
and 30 epochs (~15 s cold). CI gates on ``default`` and compares with ``robustcheck-baseline.json``.

Bars: measured values minus a margin of about two binomial standard errors at p = 0.5 — 0.10 at
smoke (128 digits), 0.05 at default (368) — for accuracies, 0.05 for detection AUC, and 0.03 on the
model's clean accuracy. Measured on 2026-11-26 on a 2-core x86-64 CPU, torch 2.14.1, 1 thread
(``conftest.py``), seed 0, with

    pytest --robustcheck --robustcheck-scale=smoke      # and --robustcheck-scale=default

clean accuracy 0.984 (smoke) / 0.981 (default); ae-kl clean-accuracy drop 0.016 / −0.003; the
corrected accuracies and AUCs are in ``MEASURED`` and ``MEASURED_AUC`` below. Re-measure and update
them together with the baseline whenever the model file changes.
"""

from __future__ import annotations

import math

from data import digits_splits
from model import MEAN, MODEL_FILE, STD, DigitsCNN

from robustcheck import Attack, Defence, Scale, Suite, Thresholds
from robustcheck.models import ModelFile

SCALES = {
    "smoke": Scale(n_samples=128, train_limit=None, classifier_epochs=1, defence_epochs=10, attack_steps=10),
    "default": Scale(n_samples=None, train_limit=None, classifier_epochs=1, defence_epochs=30),
}
MARGIN = {"smoke": 0.10, "default": 0.05}
AUC_MARGIN = 0.05
CLEAN_MARGIN = 0.03

#: corrected accuracy measured per scale: (defence, attack, ε, threat) → value. None as the threat:
#: the same under grey- and white-box (the model alone; a detector leaves the label to the model)
MEASURED = {
    "smoke": {
        ("none", "fgsm", 0.05, None): 0.8906,
        ("none", "fgsm", 0.1, None): 0.5938,
        ("none", "pgd-linf", 0.05, None): 0.8750,
        ("none", "pgd-linf", 0.1, None): 0.5391,
        ("ae-kl", "fgsm", 0.05, "grey-box"): 0.9219,
        ("ae-kl", "fgsm", 0.05, "white-box"): 0.7578,
        ("ae-kl", "fgsm", 0.1, "grey-box"): 0.7578,
        ("ae-kl", "fgsm", 0.1, "white-box"): 0.3984,
        ("ae-kl", "pgd-linf", 0.05, "grey-box"): 0.9062,
        ("ae-kl", "pgd-linf", 0.05, "white-box"): 0.7266,
        ("ae-kl", "pgd-linf", 0.1, "grey-box"): 0.7266,
        ("ae-kl", "pgd-linf", 0.1, "white-box"): 0.3047,
    },
    "default": {
        ("none", "fgsm", 0.05, None): 0.9076,
        ("none", "fgsm", 0.1, None): 0.6223,
        ("none", "pgd-linf", 0.05, None): 0.8995,
        ("none", "pgd-linf", 0.1, None): 0.5543,
        ("ae-kl", "fgsm", 0.05, "grey-box"): 0.9212,
        ("ae-kl", "fgsm", 0.05, "white-box"): 0.7962,
        ("ae-kl", "fgsm", 0.1, "grey-box"): 0.7826,
        ("ae-kl", "fgsm", 0.1, "white-box"): 0.4158,
        ("ae-kl", "pgd-linf", 0.05, "grey-box"): 0.9185,
        ("ae-kl", "pgd-linf", 0.05, "white-box"): 0.7717,
        ("ae-kl", "pgd-linf", 0.1, "grey-box"): 0.7799,
        ("ae-kl", "pgd-linf", 0.1, "white-box"): 0.3125,
    },
}
#: lowest detection AUC measured over a detector's cases: (scale, defence, threat) → value
MEASURED_AUC = {
    ("smoke", "squeeze-2bit", None): 0.9760,
    ("default", "squeeze-2bit", None): 0.9728,
    ("smoke", "ae-kl", "grey-box"): 0.8841,
    ("smoke", "ae-kl", "white-box"): 0.8193,
    ("default", "ae-kl", "grey-box"): 0.9455,
    ("default", "ae-kl", "white-box"): 0.9064,
}
MEASURED_CLEAN = {"smoke": 0.9844, "default": 0.9810}


def floor2(v: float) -> float:
    return math.floor(v * 100 + 1e-9) / 100


THRESHOLDS = [
    Thresholds(defence="ae-kl", clean_accuracy_drop=0.05),  # measured 0.016 (smoke), -0.003 (default)
    *(Thresholds(scale=s, clean_accuracy=floor2(v - CLEAN_MARGIN)) for s, v in MEASURED_CLEAN.items()),
    *(
        Thresholds(scale=s, defence=d, attack=a, eps=e, threat=t, corrected_accuracy=floor2(v - MARGIN[s]))
        for s, cases in MEASURED.items()
        for (d, a, e, t), v in cases.items()
    ),
    *(
        Thresholds(scale=s, defence=d, threat=t, detection_auc=floor2(v - AUC_MARGIN))
        for (s, d, t), v in MEASURED_AUC.items()
    ),
]

SUITE = Suite(
    name="digits-release",
    dataset=digits_splits,  # the team's loader (data.py)
    classifier=ModelFile(MODEL_FILE, factory=DigitsCNN),  # the committed state dict + its class
    normalize=(MEAN, STD),  # the model expects (x - MEAN) / STD
    defences=["none", Defence("feature-squeezing", id="squeeze-2bit", bits=2, median_size=None), "ae-kl"],
    attacks=[Attack("fgsm", eps=[0.05, 0.1]), Attack("pgd-linf", eps=[0.05, 0.1], steps=40)],
    threat_models=["grey-box", "white-box"],
    scales=SCALES,
    thresholds=THRESHOLDS,
)
