"""Threat models and detector-aware attacks against the 004 detectors on embedded MNIST-5k.

The KL and MSE autoencoders get their adaptive cases in ``suites/default.py``; this suite covers the
CVAE detector (004 ch. 6), feature squeezing, the MagNet baseline and the ae-kl checkpoint/architecture
ensemble (001 eq 10–11) under all three threat models at ε = 0.1 (L∞):
- grey-box: x′ crafted on C;
- white-box: x′ crafted on what the defence declares (C for the pure detectors, C∘reformer for MagNet,
  the ensemble vote for the ensemble; the detector-aware
  attacks also descend the detector's differentiable score: sigma-pgd 004 eq 6.6, cw-detector Carlini
  & Wagner 2017, bim-recon 004 eq 7.15; feature squeezing's bit-depth step goes through BPDA);
- black-box: Square queries the defended pipeline's outputs; gradient attacks transfer from a
  surrogate classifier trained with seed + 1;
plus the per-example worst case over the L∞ family. Attack-failure indicators run on every case.

Scale ``default`` is this suite's own (100 test digits, attacks capped at 20 steps, defences trained
5 epochs like ``suites/generative.py``, so its cached CVAE detector is shared). Run:
``OMP_NUM_THREADS=1 python -m pytest suites/adaptive.py --robustcheck -q``.

Bars (CPU, torch 2.15, seed 0, 2026-11-24): the worst of three measurements, two with models trained
on 2 threads (records 0011 and 0021, 7 min 50 s with the classifier cached) and one retrained on 1
thread throughout, because training is not bit-reproducible across thread counts:
rates are measured − 0.07 (n = 100: one binomial SE ≤ 0.05), AUCs measured − 0.05 (per defence and
oblivious attack: the lowest over threat models), adaptive_success_rate measured + 0.07; rates
measured below 0.10 get no lower bar. The measured bars are data, ``adaptive.bars.json`` beside this
file (each with its measured value and margin), written by ``benchmarks/bars_from_run.py mnist-adaptive
<records> --margin 0.07 --auc-margin 0.05 --clean-margin 0.07 --auc-attacks fgsm,pgd-linf,square
--adaptive-attacks sigma-pgd,cw-detector,bim-recon --write suites/adaptive.py``; the bars chosen by hand
(clean accuracy, the gates at 0, ``allow_inconclusive``) stay here.

Known limits: ``bim-recon`` against a detector without a purifier (the CVAE detector and feature
squeezing) has no reconstruction
term (P is the identity) and reduces to BIM with best-iterate selection on the detector score; the
CVAE detector trained 5 epochs reaches AUC ≈ 0.75 only.

Re-measured 2026-11-26 after the honest-numbers fixes (record 0003, ``pytest --robustcheck suites/``,
2 threads, torch 2.14.1; one measurement, not yet the worst of several thread counts): every bar was
reset from it with the margins above. What moved and why:
- MagNet: its label is C(AE(x)) for every input, but black-box and detector-aware attacks used to see
  C(x) on unflagged inputs. Attacking the evaluated function, σ-PGD's adaptive success went 0.168 →
  0.453 and CW-detector's 0.188 → 0.474 (corrected 0.79 → 0.51 and 0.78 → 0.49); black-box Square
  corrected 0.80 → 0.60 (flagged queries no longer count as the attacker's success either).
- ``bim-recon`` (004 counter-attack B) is weaker than oblivious PGD against MagNet (defended rate 0.79
  vs 0.51) and the ensemble (0.95 vs 0.83): the indicator ``adaptive_weaker`` makes these two cases
  inconclusive; they are accepted visibly (``allow_inconclusive``) as a measured weakness of that
  attack here, not as robustness. σ-PGD and CW-detector are the adaptive attacks that count.
- ``whitebox_weaker`` (added 2026-11-27: a white-box case weaker than the same attack's grey-box case,
  whose x′ a white-box attacker can always play) is raised on one case of this suite's 100, the ensemble's
  ``bim-recon`` in white-box (corrected 0.920 vs 0.810 in grey-box, adaptive success 0.011 vs 0.084; the
  same run, cold, 2 threads), which
  ``adaptive_weaker`` already marked; it is accepted with it, by name. No bar moved.
- All defences were retrained from RNGs seeded by the suite's seed (their initial weights used to come
  from whatever the process had drawn before), so the other numbers moved by training noise.
"""

from __future__ import annotations

from robustcheck import Attack, Scale, Suite, Thresholds
from robustcheck.bars import measured_bars

D = "default"
WITH_GRADIENTS = ["grey-box", "white-box"]
SCALES = {
    "smoke": Scale(n_samples=32, train_limit=1200, classifier_epochs=3, defence_epochs=2, attack_steps=5),
    D: Scale(n_samples=100, train_limit=None, classifier_epochs=20, defence_epochs=5, attack_steps=20),
}

SUITE = Suite(
    name="mnist-adaptive",
    dataset="mnist-embedded",
    classifier="mnist-cnn",
    defences=["none", "cvae-detector", "feature-squeezing", "magnet", "ae-kl-ensemble"],
    attacks=[
        Attack("fgsm", eps=0.1),
        Attack("pgd-linf", eps=0.1, steps=40),
        Attack("square", eps=0.1, steps=300),
        # detector-aware: they need the defence's gradients, so they have no black-box form
        Attack("sigma-pgd", eps=0.1, sigma=0.5, steps=40, threats=WITH_GRADIENTS),
        Attack("cw-detector", eps=0.1, kappa=10.0, steps=40, threats=WITH_GRADIENTS),
        Attack("bim-recon", eps=0.1, beta=1.0, steps=40, threats=WITH_GRADIENTS),
    ],
    families={
        "linf": ["fgsm", "pgd-linf", "square", "sigma-pgd", "cw-detector", "bim-recon"],  # grey/white-box
        "linf-oblivious": ["fgsm", "pgd-linf", "square"],  # all three threat models
    },
    threat_models=["grey-box", "white-box", "black-box"],
    scales=SCALES,
    seed=0,
    fpr=0.05,
    thresholds=[
        Thresholds(scale=D, clean_accuracy=0.88),  # 0.950
        # the harness checks its own attacks: measured 0 on every case
        Thresholds(scale=D, silent_success=0),
        Thresholds(scale=D, threat="white-box", gradient_masking=0),
        # measured weaker than oblivious PGD (adaptive_weaker), accepted visibly (see the docstring):
        # defended rate 0.79 vs 0.51 (magnet), 0.95 vs 0.83 (ensemble), record 0003 of 2026-11-26
        Thresholds(
            defence="magnet", attack="bim-recon", threat="white-box", allow_inconclusive=["adaptive_weaker"]
        ),
        # and weaker than its own grey-box case on the ensemble (whitebox_weaker, 2026-11-27: corrected 0.920
        # vs 0.810, adaptive success 0.011 vs 0.084; module doc)
        Thresholds(
            defence="ae-kl-ensemble",
            attack="bim-recon",
            threat="white-box",
            allow_inconclusive=["adaptive_weaker", "whitebox_weaker"],
        ),
        # per-case bars from record 0003 of 2026-11-26 (benchmarks/bars_from_run.py; adaptive.bars.json)
        *measured_bars(__file__),
    ],
)
