"""The default suite: embedded MNIST-5k, the KL paper's classifier (A.1), CPU-sized.

Run: ``pytest --robustcheck suites/`` (``--robustcheck-scale=smoke`` for a quick look).

Bars. Every bar comes from a measured run (``pytest --robustcheck suites/default.py`` at scale
``default``, CPU, 2 torch threads, torch 2.14.1, seed 0; record 0001 of 2026-11-27, with ae-kl trained 10
epochs) minus a stated margin. The per-case and per-defence ones are data:
``default.bars.json`` beside this file holds each with its measured value and margin, written by
``benchmarks/bars_from_run.py mnist-default <records> --margin 0.05 --auc-attacks fgsm,pgd-linf
--adaptive-attacks sigma-pgd,cw-detector,bim-recon --write suites/default.py``; the bars chosen by hand
(clean accuracy, clean-accuracy drop, the gates at 0) stay below. Margins:
- corrected_accuracy (worst_case_corrected_accuracy for the family): measured − 0.05, rounded down to
  0.01 (n = 500 test digits, so one binomial standard error is ≤ 0.022; the margin is ~2 SE). Cases
  measured below 0.10 get no corrected-accuracy bar: a bar near 0 could not fail.
- detection_auc: per defence and oblivious attack (FGSM, PGD), the lowest measured AUC − 0.03; per
  case for the detector-aware attacks (they are built to lower the AUC), measured − 0.03.
- adaptive_success_rate (detector-aware white-box cases): measured + 0.05, rounded up.
- defended_clean_accuracy: measured − 0.04; clean_accuracy_drop: measured + 0.02 (ae-kl, rounded up),
  + 0.022 (ae-mse); clean_accuracy: measured 0.968 − 0.04.
- Integrity indicators gate every case (a raised one makes the case inconclusive, and it fails); none
  is raised in record 0001. ``bim-recon`` in white-box is the closest: defended rate 0.972 (ae-kl) vs
  0.970 for oblivious PGD at the same ε and FPR, within noise; with the myopic white-box gradient tried
  during the fixes it was flagged ``adaptive_weaker`` (004's counter-attack B adds a pixel reconstruction
  term, which is not what the KL/MSE detectors score), and once more in a 1-thread run on 2026-11-27.
  σ-PGD and CW-detector are the adaptive attacks that count here.
- ``whitebox_weaker`` (2026-11-27): a white-box attacker can always play the grey-box x′, so a white-box
  case weaker than the same attack's grey-box case is an attack failure. Of the 24 white-box cases with a
  grey-box sibling, it flags exactly the two ``bim-recon`` ones (corrected 0.946 vs 0.890 on ae-kl, 0.918
  vs 0.850 on ae-mse; adaptive success 0.014 vs 0.043 and 0.037 vs 0.101). They are allowed to be
  inconclusive, by name, and show so in the report: their white-box numbers are optimistic, the grey-box
  ones are the honest bim-recon result. Oblivious FGSM/PGD in white-box are judged on corrected accuracy
  (what they aim at), where they are far stronger than grey-box.
Training budget (issue 15, item 3: "train with the epochs the bars really need"). ae-kl trains 10 epochs
at this scale (``Defence("ae-kl", epochs={"default": 10})``), ae-mse the scale's 30.
- The curve: ``benchmarks/epoch_curve.py --suite suites/default.py --defence ae-kl --epochs 10,15,20,30
  --case fgsm:0.1`` gave grey-box FGSM corrected 0.912 / 0.922 / 0.908 / 0.916 (flat within one SE) for
  ae-kl. ae-mse gave 0.826 / 0.850 / 0.854 / 0.882, still rising, so it keeps 30.
- The whole suite at 10 epochs against 30 (same code, 2 threads): every ae-kl case passed the 30-epoch
  bars. Corrected accuracies fell by at most 0.002, detection AUCs by at most 0.008 (white-box PGD ε 0.1,
  0.963 → 0.955, over 34 successful x′), adaptive success rates not at all; most rose:
  - white-box PGD ε 0.1 corrected 0.542 → 0.594;
  - σ-PGD white-box corrected 0.846 → 0.876, adaptive success 0.126 → 0.095;
  - FGSM / PGD detection AUCs +0.007 to +0.024;
  - defended clean accuracy 0.970 → 0.972, FPR at the threshold 0.064.
  So the bars moved up: 18 stricter, 1 looser (grey-box PGD ε 0.1: 0.84 → 0.83, measured 0.890 → 0.888),
  1 added (grey-box PGD ε 0.3, measured 0.126).
- The ae-mse and none cases are bit-identical to the 30-epoch run and to record 0001 of 2026-11-26
  (except ``blackbox_accuracy`` / ``blackbox_rows``, the staged Square probe's). Their bars are unchanged.
- Cold run 504 s → 335 s (this and the max-pooling speed-up, robustcheck.models.pooling).
Before (record 0001 of 2026-11-26, against the bars of 2026-11-24, record 0007):
- The autoencoders were initialised from an RNG seeded by the suite's seed (they drew their initial
  weights from whatever the classifier's training left in the global RNG): same seed, same weights
  from a cold cache in any process order.
- White-box x′ are chosen by the *defended* label (``defended_logits``: C(x) on unflagged inputs),
  not by C∘AE's; the gradient is still C∘AE's.
Smoke scale (64 digits, 3 classifier epochs) only gates clean accuracy: measured 0.766 − 0.11 (≈2 SE).
Budget violations are always gated at 0 by the engine.
"""

from __future__ import annotations

from robustcheck import Attack, Defence, Suite, Thresholds
from robustcheck.bars import measured_bars

D = "default"

SUITE = Suite(
    name="mnist-default",
    dataset="mnist-embedded",
    classifier="mnist-cnn",
    # ae-kl trains 10 epochs at scale default, ae-mse the scale's 30 (issue 15, item 3; module doc)
    defences=["none", Defence("ae-kl", epochs={"default": 10}), "ae-mse"],
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
        Thresholds(scale=D, defence="ae-kl", clean_accuracy_drop=0.02),  # measured -0.004
        Thresholds(scale=D, defence="ae-mse", clean_accuracy_drop=0.06),  # measured 0.038
        # the harness checks its own attacks: measured 0 on every case (EVALUATION.md)
        Thresholds(scale=D, silent_success=0),
        Thresholds(scale=D, threat="white-box", gradient_masking=0),
        # bim-recon (004's counter-attack B) in white-box is weaker than the same attack crafted on C
        # alone (whitebox_weaker, measured 2026-11-27: corrected 0.946 vs 0.890 on ae-kl, 0.918 vs 0.850 on
        # ae-mse): its white-box number is optimistic and shows as inconclusive-allowed; σ-PGD, CW-detector
        # and the white-box worst-case family are the white-box results that count (module doc)
        Thresholds(scale=D, attack="bim-recon", threat="white-box", allow_inconclusive=["whitebox_weaker"]),
        # per-case bars from record 0001 (benchmarks/bars_from_run.py; command, margins and measured values
        # in default.bars.json)
        *measured_bars(__file__),
    ],
)
