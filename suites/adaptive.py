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
measured below 0.10 get no lower bar. Measured value in each comment.

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
- All defences were retrained from RNGs seeded by the suite's seed (their initial weights used to come
  from whatever the process had drawn before), so the other numbers moved by training noise.
"""

from __future__ import annotations

from robustcheck import Attack, Scale, Suite, Thresholds

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
        Thresholds(
            defence="ae-kl-ensemble",
            attack="bim-recon",
            threat="white-box",
            allow_inconclusive=["adaptive_weaker"],
        ),
        # generated by benchmarks/bars_from_run.py from record 0003 of 2026-11-26 (2 threads, measured value in
        # the comment): --margin 0.07 --auc-margin 0.05
        #   --clean-margin 0.07 --auc-attacks fgsm,pgd-linf,square --adaptive-attacks sigma-pgd,cw-detector,bim-recon
        Thresholds(
            scale=D,
            defence="ae-kl-ensemble",
            attack="bim-recon",
            eps=0.1,
            threat="grey-box",
            corrected_accuracy=0.74,
        ),  # 0.810
        Thresholds(
            scale=D,
            defence="ae-kl-ensemble",
            attack="bim-recon",
            eps=0.1,
            threat="grey-box",
            detection_auc=0.86,
        ),  # 0.911
        Thresholds(
            scale=D,
            defence="ae-kl-ensemble",
            attack="bim-recon",
            eps=0.1,
            threat="white-box",
            corrected_accuracy=0.85,
        ),  # 0.920
        Thresholds(
            scale=D,
            defence="ae-kl-ensemble",
            attack="bim-recon",
            eps=0.1,
            threat="white-box",
            detection_auc=0.87,
        ),  # 0.920
        Thresholds(
            scale=D,
            defence="ae-kl-ensemble",
            attack="bim-recon",
            eps=0.1,
            threat="white-box",
            adaptive_success_rate=0.09,
        ),  # 0.011
        Thresholds(
            scale=D,
            defence="ae-kl-ensemble",
            attack="cw-detector",
            eps=0.1,
            threat="grey-box",
            corrected_accuracy=0.76,
        ),  # 0.830
        Thresholds(
            scale=D,
            defence="ae-kl-ensemble",
            attack="cw-detector",
            eps=0.1,
            threat="grey-box",
            detection_auc=0.86,
        ),  # 0.912
        Thresholds(
            scale=D,
            defence="ae-kl-ensemble",
            attack="cw-detector",
            eps=0.1,
            threat="white-box",
            corrected_accuracy=0.73,
        ),  # 0.800
        Thresholds(
            scale=D,
            defence="ae-kl-ensemble",
            attack="cw-detector",
            eps=0.1,
            threat="white-box",
            detection_auc=0.80,
        ),  # 0.851
        Thresholds(
            scale=D,
            defence="ae-kl-ensemble",
            attack="cw-detector",
            eps=0.1,
            threat="white-box",
            adaptive_success_rate=0.22,
        ),  # 0.147
        Thresholds(
            scale=D,
            defence="ae-kl-ensemble",
            attack="linf-oblivious",
            eps=0.1,
            threat="black-box",
            worst_case_corrected_accuracy=0.73,
        ),  # 0.800
        Thresholds(
            scale=D,
            defence="ae-kl-ensemble",
            attack="linf-oblivious",
            eps=0.1,
            threat="grey-box",
            worst_case_corrected_accuracy=0.73,
        ),  # 0.800
        Thresholds(
            scale=D,
            defence="ae-kl-ensemble",
            attack="linf-oblivious",
            eps=0.1,
            threat="white-box",
            worst_case_corrected_accuracy=0.55,
        ),  # 0.620
        Thresholds(
            scale=D,
            defence="ae-kl-ensemble",
            attack="linf",
            eps=0.1,
            threat="grey-box",
            worst_case_corrected_accuracy=0.73,
        ),  # 0.800
        Thresholds(
            scale=D,
            defence="ae-kl-ensemble",
            attack="linf",
            eps=0.1,
            threat="white-box",
            worst_case_corrected_accuracy=0.55,
        ),  # 0.620
        Thresholds(
            scale=D,
            defence="ae-kl-ensemble",
            attack="fgsm",
            eps=0.1,
            threat="black-box",
            corrected_accuracy=0.79,
        ),  # 0.860
        Thresholds(
            scale=D,
            defence="ae-kl-ensemble",
            attack="fgsm",
            eps=0.1,
            threat="grey-box",
            corrected_accuracy=0.79,
        ),  # 0.860
        Thresholds(
            scale=D,
            defence="ae-kl-ensemble",
            attack="fgsm",
            eps=0.1,
            threat="white-box",
            corrected_accuracy=0.61,
        ),  # 0.680
        Thresholds(
            scale=D,
            defence="ae-kl-ensemble",
            attack="pgd-linf",
            eps=0.1,
            threat="black-box",
            corrected_accuracy=0.75,
        ),  # 0.820
        Thresholds(
            scale=D,
            defence="ae-kl-ensemble",
            attack="pgd-linf",
            eps=0.1,
            threat="grey-box",
            corrected_accuracy=0.74,
        ),  # 0.810
        Thresholds(
            scale=D,
            defence="ae-kl-ensemble",
            attack="pgd-linf",
            eps=0.1,
            threat="white-box",
            corrected_accuracy=0.57,
        ),  # 0.640
        Thresholds(
            scale=D,
            defence="ae-kl-ensemble",
            attack="sigma-pgd",
            eps=0.1,
            threat="grey-box",
            corrected_accuracy=0.74,
        ),  # 0.810
        Thresholds(
            scale=D,
            defence="ae-kl-ensemble",
            attack="sigma-pgd",
            eps=0.1,
            threat="grey-box",
            detection_auc=0.86,
        ),  # 0.911
        Thresholds(
            scale=D,
            defence="ae-kl-ensemble",
            attack="sigma-pgd",
            eps=0.1,
            threat="white-box",
            corrected_accuracy=0.73,
        ),  # 0.800
        Thresholds(
            scale=D,
            defence="ae-kl-ensemble",
            attack="sigma-pgd",
            eps=0.1,
            threat="white-box",
            detection_auc=0.73,
        ),  # 0.787
        Thresholds(
            scale=D,
            defence="ae-kl-ensemble",
            attack="sigma-pgd",
            eps=0.1,
            threat="white-box",
            adaptive_success_rate=0.22,
        ),  # 0.147
        Thresholds(
            scale=D,
            defence="ae-kl-ensemble",
            attack="square",
            eps=0.1,
            threat="black-box",
            corrected_accuracy=0.77,
        ),  # 0.840
        Thresholds(
            scale=D,
            defence="ae-kl-ensemble",
            attack="square",
            eps=0.1,
            threat="grey-box",
            corrected_accuracy=0.77,
        ),  # 0.840
        Thresholds(
            scale=D,
            defence="ae-kl-ensemble",
            attack="square",
            eps=0.1,
            threat="white-box",
            corrected_accuracy=0.70,
        ),  # 0.770
        Thresholds(
            scale=D,
            defence="cvae-detector",
            attack="bim-recon",
            eps=0.1,
            threat="grey-box",
            corrected_accuracy=0.67,
        ),  # 0.740
        Thresholds(
            scale=D,
            defence="cvae-detector",
            attack="bim-recon",
            eps=0.1,
            threat="grey-box",
            detection_auc=0.72,
        ),  # 0.779
        Thresholds(
            scale=D,
            defence="cvae-detector",
            attack="bim-recon",
            eps=0.1,
            threat="white-box",
            corrected_accuracy=0.67,
        ),  # 0.740
        Thresholds(
            scale=D,
            defence="cvae-detector",
            attack="bim-recon",
            eps=0.1,
            threat="white-box",
            detection_auc=0.72,
        ),  # 0.779
        Thresholds(
            scale=D,
            defence="cvae-detector",
            attack="bim-recon",
            eps=0.1,
            threat="white-box",
            adaptive_success_rate=0.25,
        ),  # 0.179
        Thresholds(
            scale=D,
            defence="cvae-detector",
            attack="cw-detector",
            eps=0.1,
            threat="grey-box",
            corrected_accuracy=0.67,
        ),  # 0.740
        Thresholds(
            scale=D,
            defence="cvae-detector",
            attack="cw-detector",
            eps=0.1,
            threat="grey-box",
            detection_auc=0.72,
        ),  # 0.776
        Thresholds(
            scale=D,
            defence="cvae-detector",
            attack="cw-detector",
            eps=0.1,
            threat="white-box",
            corrected_accuracy=0.69,
        ),  # 0.760
        Thresholds(
            scale=D,
            defence="cvae-detector",
            attack="cw-detector",
            eps=0.1,
            threat="white-box",
            detection_auc=0.70,
        ),  # 0.751
        Thresholds(
            scale=D,
            defence="cvae-detector",
            attack="cw-detector",
            eps=0.1,
            threat="white-box",
            adaptive_success_rate=0.28,
        ),  # 0.200
        Thresholds(
            scale=D,
            defence="cvae-detector",
            attack="linf-oblivious",
            eps=0.1,
            threat="black-box",
            worst_case_corrected_accuracy=0.71,
        ),  # 0.780
        Thresholds(
            scale=D,
            defence="cvae-detector",
            attack="linf-oblivious",
            eps=0.1,
            threat="grey-box",
            worst_case_corrected_accuracy=0.67,
        ),  # 0.740
        Thresholds(
            scale=D,
            defence="cvae-detector",
            attack="linf-oblivious",
            eps=0.1,
            threat="white-box",
            worst_case_corrected_accuracy=0.67,
        ),  # 0.740
        Thresholds(
            scale=D,
            defence="cvae-detector",
            attack="linf",
            eps=0.1,
            threat="grey-box",
            worst_case_corrected_accuracy=0.67,
        ),  # 0.740
        Thresholds(
            scale=D,
            defence="cvae-detector",
            attack="linf",
            eps=0.1,
            threat="white-box",
            worst_case_corrected_accuracy=0.67,
        ),  # 0.740
        Thresholds(
            scale=D,
            defence="cvae-detector",
            attack="fgsm",
            eps=0.1,
            threat="black-box",
            corrected_accuracy=0.75,
        ),  # 0.820
        Thresholds(
            scale=D,
            defence="cvae-detector",
            attack="fgsm",
            eps=0.1,
            threat="grey-box",
            corrected_accuracy=0.71,
        ),  # 0.780
        Thresholds(
            scale=D,
            defence="cvae-detector",
            attack="fgsm",
            eps=0.1,
            threat="white-box",
            corrected_accuracy=0.71,
        ),  # 0.780
        Thresholds(
            scale=D,
            defence="cvae-detector",
            attack="pgd-linf",
            eps=0.1,
            threat="black-box",
            corrected_accuracy=0.71,
        ),  # 0.780
        Thresholds(
            scale=D,
            defence="cvae-detector",
            attack="pgd-linf",
            eps=0.1,
            threat="grey-box",
            corrected_accuracy=0.67,
        ),  # 0.740
        Thresholds(
            scale=D,
            defence="cvae-detector",
            attack="pgd-linf",
            eps=0.1,
            threat="white-box",
            corrected_accuracy=0.67,
        ),  # 0.740
        Thresholds(
            scale=D,
            defence="cvae-detector",
            attack="sigma-pgd",
            eps=0.1,
            threat="grey-box",
            corrected_accuracy=0.67,
        ),  # 0.740
        Thresholds(
            scale=D,
            defence="cvae-detector",
            attack="sigma-pgd",
            eps=0.1,
            threat="grey-box",
            detection_auc=0.72,
        ),  # 0.779
        Thresholds(
            scale=D,
            defence="cvae-detector",
            attack="sigma-pgd",
            eps=0.1,
            threat="white-box",
            corrected_accuracy=0.69,
        ),  # 0.760
        Thresholds(
            scale=D,
            defence="cvae-detector",
            attack="sigma-pgd",
            eps=0.1,
            threat="white-box",
            detection_auc=0.71,
        ),  # 0.762
        Thresholds(
            scale=D,
            defence="cvae-detector",
            attack="sigma-pgd",
            eps=0.1,
            threat="white-box",
            adaptive_success_rate=0.24,
        ),  # 0.168
        Thresholds(
            scale=D,
            defence="cvae-detector",
            attack="square",
            eps=0.1,
            threat="black-box",
            corrected_accuracy=0.77,
        ),  # 0.840
        Thresholds(
            scale=D,
            defence="cvae-detector",
            attack="square",
            eps=0.1,
            threat="grey-box",
            corrected_accuracy=0.74,
        ),  # 0.810
        Thresholds(
            scale=D,
            defence="cvae-detector",
            attack="square",
            eps=0.1,
            threat="white-box",
            corrected_accuracy=0.74,
        ),  # 0.810
        Thresholds(
            scale=D,
            defence="feature-squeezing",
            attack="bim-recon",
            eps=0.1,
            threat="grey-box",
            corrected_accuracy=0.67,
        ),  # 0.740
        Thresholds(
            scale=D,
            defence="feature-squeezing",
            attack="bim-recon",
            eps=0.1,
            threat="grey-box",
            detection_auc=0.89,
        ),  # 0.944
        Thresholds(
            scale=D,
            defence="feature-squeezing",
            attack="bim-recon",
            eps=0.1,
            threat="white-box",
            corrected_accuracy=0.67,
        ),  # 0.740
        Thresholds(
            scale=D,
            defence="feature-squeezing",
            attack="bim-recon",
            eps=0.1,
            threat="white-box",
            detection_auc=0.88,
        ),  # 0.939
        Thresholds(
            scale=D,
            defence="feature-squeezing",
            attack="bim-recon",
            eps=0.1,
            threat="white-box",
            adaptive_success_rate=0.18,
        ),  # 0.105
        Thresholds(
            scale=D,
            defence="feature-squeezing",
            attack="cw-detector",
            eps=0.1,
            threat="grey-box",
            corrected_accuracy=0.67,
        ),  # 0.740
        Thresholds(
            scale=D,
            defence="feature-squeezing",
            attack="cw-detector",
            eps=0.1,
            threat="grey-box",
            detection_auc=0.89,
        ),  # 0.944
        Thresholds(
            scale=D,
            defence="feature-squeezing",
            attack="cw-detector",
            eps=0.1,
            threat="white-box",
            corrected_accuracy=0.74,
        ),  # 0.810
        Thresholds(
            scale=D,
            defence="feature-squeezing",
            attack="cw-detector",
            eps=0.1,
            threat="white-box",
            detection_auc=0.84,
        ),  # 0.892
        Thresholds(
            scale=D,
            defence="feature-squeezing",
            attack="cw-detector",
            eps=0.1,
            threat="white-box",
            adaptive_success_rate=0.21,
        ),  # 0.137
        Thresholds(
            scale=D,
            defence="feature-squeezing",
            attack="linf-oblivious",
            eps=0.1,
            threat="black-box",
            worst_case_corrected_accuracy=0.70,
        ),  # 0.770
        Thresholds(
            scale=D,
            defence="feature-squeezing",
            attack="linf-oblivious",
            eps=0.1,
            threat="grey-box",
            worst_case_corrected_accuracy=0.67,
        ),  # 0.740
        Thresholds(
            scale=D,
            defence="feature-squeezing",
            attack="linf-oblivious",
            eps=0.1,
            threat="white-box",
            worst_case_corrected_accuracy=0.67,
        ),  # 0.740
        Thresholds(
            scale=D,
            defence="feature-squeezing",
            attack="linf",
            eps=0.1,
            threat="grey-box",
            worst_case_corrected_accuracy=0.67,
        ),  # 0.740
        Thresholds(
            scale=D,
            defence="feature-squeezing",
            attack="linf",
            eps=0.1,
            threat="white-box",
            worst_case_corrected_accuracy=0.67,
        ),  # 0.740
        Thresholds(
            scale=D,
            defence="feature-squeezing",
            attack="fgsm",
            eps=0.1,
            threat="black-box",
            corrected_accuracy=0.75,
        ),  # 0.820
        Thresholds(
            scale=D,
            defence="feature-squeezing",
            attack="fgsm",
            eps=0.1,
            threat="grey-box",
            corrected_accuracy=0.71,
        ),  # 0.780
        Thresholds(
            scale=D,
            defence="feature-squeezing",
            attack="fgsm",
            eps=0.1,
            threat="white-box",
            corrected_accuracy=0.71,
        ),  # 0.780
        Thresholds(
            scale=D,
            defence="feature-squeezing",
            attack="pgd-linf",
            eps=0.1,
            threat="black-box",
            corrected_accuracy=0.71,
        ),  # 0.780
        Thresholds(
            scale=D,
            defence="feature-squeezing",
            attack="pgd-linf",
            eps=0.1,
            threat="grey-box",
            corrected_accuracy=0.67,
        ),  # 0.740
        Thresholds(
            scale=D,
            defence="feature-squeezing",
            attack="pgd-linf",
            eps=0.1,
            threat="white-box",
            corrected_accuracy=0.67,
        ),  # 0.740
        Thresholds(
            scale=D,
            defence="feature-squeezing",
            attack="sigma-pgd",
            eps=0.1,
            threat="grey-box",
            corrected_accuracy=0.67,
        ),  # 0.740
        Thresholds(
            scale=D,
            defence="feature-squeezing",
            attack="sigma-pgd",
            eps=0.1,
            threat="grey-box",
            detection_auc=0.89,
        ),  # 0.944
        Thresholds(
            scale=D,
            defence="feature-squeezing",
            attack="sigma-pgd",
            eps=0.1,
            threat="white-box",
            corrected_accuracy=0.81,
        ),  # 0.880
        Thresholds(
            scale=D,
            defence="feature-squeezing",
            attack="sigma-pgd",
            eps=0.1,
            threat="white-box",
            detection_auc=0.77,
        ),  # 0.826
        Thresholds(
            scale=D,
            defence="feature-squeezing",
            attack="sigma-pgd",
            eps=0.1,
            threat="white-box",
            adaptive_success_rate=0.15,
        ),  # 0.074
        Thresholds(
            scale=D,
            defence="feature-squeezing",
            attack="square",
            eps=0.1,
            threat="black-box",
            corrected_accuracy=0.77,
        ),  # 0.840
        Thresholds(
            scale=D,
            defence="feature-squeezing",
            attack="square",
            eps=0.1,
            threat="grey-box",
            corrected_accuracy=0.74,
        ),  # 0.810
        Thresholds(
            scale=D,
            defence="feature-squeezing",
            attack="square",
            eps=0.1,
            threat="white-box",
            corrected_accuracy=0.74,
        ),  # 0.810
        Thresholds(
            scale=D, defence="magnet", attack="bim-recon", eps=0.1, threat="grey-box", corrected_accuracy=0.71
        ),  # 0.780
        Thresholds(
            scale=D, defence="magnet", attack="bim-recon", eps=0.1, threat="grey-box", detection_auc=0.58
        ),  # 0.639
        Thresholds(
            scale=D,
            defence="magnet",
            attack="bim-recon",
            eps=0.1,
            threat="white-box",
            corrected_accuracy=0.72,
        ),  # 0.790
        Thresholds(
            scale=D, defence="magnet", attack="bim-recon", eps=0.1, threat="white-box", detection_auc=0.25
        ),  # 0.300
        Thresholds(
            scale=D,
            defence="magnet",
            attack="bim-recon",
            eps=0.1,
            threat="white-box",
            adaptive_success_rate=0.25,
        ),  # 0.179
        Thresholds(
            scale=D,
            defence="magnet",
            attack="cw-detector",
            eps=0.1,
            threat="grey-box",
            corrected_accuracy=0.70,
        ),  # 0.770
        Thresholds(
            scale=D, defence="magnet", attack="cw-detector", eps=0.1, threat="grey-box", detection_auc=0.59
        ),  # 0.641
        Thresholds(
            scale=D,
            defence="magnet",
            attack="cw-detector",
            eps=0.1,
            threat="white-box",
            corrected_accuracy=0.42,
        ),  # 0.490
        Thresholds(
            scale=D, defence="magnet", attack="cw-detector", eps=0.1, threat="white-box", detection_auc=0.38
        ),  # 0.432
        Thresholds(
            scale=D,
            defence="magnet",
            attack="cw-detector",
            eps=0.1,
            threat="white-box",
            adaptive_success_rate=0.55,
        ),  # 0.474
        Thresholds(
            scale=D,
            defence="magnet",
            attack="linf-oblivious",
            eps=0.1,
            threat="black-box",
            worst_case_corrected_accuracy=0.53,
        ),  # 0.600
        Thresholds(
            scale=D,
            defence="magnet",
            attack="linf-oblivious",
            eps=0.1,
            threat="grey-box",
            worst_case_corrected_accuracy=0.70,
        ),  # 0.770
        Thresholds(
            scale=D,
            defence="magnet",
            attack="linf-oblivious",
            eps=0.1,
            threat="white-box",
            worst_case_corrected_accuracy=0.42,
        ),  # 0.490
        Thresholds(
            scale=D,
            defence="magnet",
            attack="linf",
            eps=0.1,
            threat="grey-box",
            worst_case_corrected_accuracy=0.70,
        ),  # 0.770
        Thresholds(
            scale=D,
            defence="magnet",
            attack="linf",
            eps=0.1,
            threat="white-box",
            worst_case_corrected_accuracy=0.41,
        ),  # 0.480
        Thresholds(
            scale=D, defence="magnet", attack="fgsm", eps=0.1, threat="black-box", corrected_accuracy=0.71
        ),  # 0.780
        Thresholds(
            scale=D, defence="magnet", attack="fgsm", eps=0.1, threat="grey-box", corrected_accuracy=0.71
        ),  # 0.780
        Thresholds(
            scale=D, defence="magnet", attack="fgsm", eps=0.1, threat="white-box", corrected_accuracy=0.47
        ),  # 0.540
        Thresholds(
            scale=D, defence="magnet", attack="pgd-linf", eps=0.1, threat="black-box", corrected_accuracy=0.71
        ),  # 0.780
        Thresholds(
            scale=D, defence="magnet", attack="pgd-linf", eps=0.1, threat="grey-box", corrected_accuracy=0.70
        ),  # 0.770
        Thresholds(
            scale=D, defence="magnet", attack="pgd-linf", eps=0.1, threat="white-box", corrected_accuracy=0.42
        ),  # 0.490
        Thresholds(
            scale=D, defence="magnet", attack="sigma-pgd", eps=0.1, threat="grey-box", corrected_accuracy=0.71
        ),  # 0.780
        Thresholds(
            scale=D, defence="magnet", attack="sigma-pgd", eps=0.1, threat="grey-box", detection_auc=0.58
        ),  # 0.639
        Thresholds(
            scale=D,
            defence="magnet",
            attack="sigma-pgd",
            eps=0.1,
            threat="white-box",
            corrected_accuracy=0.44,
        ),  # 0.510
        Thresholds(
            scale=D, defence="magnet", attack="sigma-pgd", eps=0.1, threat="white-box", detection_auc=0.67
        ),  # 0.727
        Thresholds(
            scale=D,
            defence="magnet",
            attack="sigma-pgd",
            eps=0.1,
            threat="white-box",
            adaptive_success_rate=0.53,
        ),  # 0.453
        Thresholds(
            scale=D, defence="magnet", attack="square", eps=0.1, threat="black-box", corrected_accuracy=0.53
        ),  # 0.600
        Thresholds(
            scale=D, defence="magnet", attack="square", eps=0.1, threat="grey-box", corrected_accuracy=0.72
        ),  # 0.790
        Thresholds(
            scale=D, defence="magnet", attack="square", eps=0.1, threat="white-box", corrected_accuracy=0.49
        ),  # 0.560
        Thresholds(
            scale=D, defence="none", attack="bim-recon", eps=0.1, threat="grey-box", corrected_accuracy=0.67
        ),  # 0.740
        Thresholds(
            scale=D, defence="none", attack="bim-recon", eps=0.1, threat="white-box", corrected_accuracy=0.67
        ),  # 0.740
        Thresholds(
            scale=D, defence="none", attack="cw-detector", eps=0.1, threat="grey-box", corrected_accuracy=0.67
        ),  # 0.740
        Thresholds(
            scale=D,
            defence="none",
            attack="cw-detector",
            eps=0.1,
            threat="white-box",
            corrected_accuracy=0.67,
        ),  # 0.740
        Thresholds(
            scale=D,
            defence="none",
            attack="linf-oblivious",
            eps=0.1,
            threat="black-box",
            worst_case_corrected_accuracy=0.71,
        ),  # 0.780
        Thresholds(
            scale=D,
            defence="none",
            attack="linf-oblivious",
            eps=0.1,
            threat="grey-box",
            worst_case_corrected_accuracy=0.67,
        ),  # 0.740
        Thresholds(
            scale=D,
            defence="none",
            attack="linf-oblivious",
            eps=0.1,
            threat="white-box",
            worst_case_corrected_accuracy=0.67,
        ),  # 0.740
        Thresholds(
            scale=D,
            defence="none",
            attack="linf",
            eps=0.1,
            threat="grey-box",
            worst_case_corrected_accuracy=0.67,
        ),  # 0.740
        Thresholds(
            scale=D,
            defence="none",
            attack="linf",
            eps=0.1,
            threat="white-box",
            worst_case_corrected_accuracy=0.67,
        ),  # 0.740
        Thresholds(
            scale=D, defence="none", attack="fgsm", eps=0.1, threat="black-box", corrected_accuracy=0.75
        ),  # 0.820
        Thresholds(
            scale=D, defence="none", attack="fgsm", eps=0.1, threat="grey-box", corrected_accuracy=0.71
        ),  # 0.780
        Thresholds(
            scale=D, defence="none", attack="fgsm", eps=0.1, threat="white-box", corrected_accuracy=0.71
        ),  # 0.780
        Thresholds(
            scale=D, defence="none", attack="pgd-linf", eps=0.1, threat="black-box", corrected_accuracy=0.71
        ),  # 0.780
        Thresholds(
            scale=D, defence="none", attack="pgd-linf", eps=0.1, threat="grey-box", corrected_accuracy=0.67
        ),  # 0.740
        Thresholds(
            scale=D, defence="none", attack="pgd-linf", eps=0.1, threat="white-box", corrected_accuracy=0.67
        ),  # 0.740
        Thresholds(
            scale=D, defence="none", attack="sigma-pgd", eps=0.1, threat="grey-box", corrected_accuracy=0.67
        ),  # 0.740
        Thresholds(
            scale=D, defence="none", attack="sigma-pgd", eps=0.1, threat="white-box", corrected_accuracy=0.67
        ),  # 0.740
        Thresholds(
            scale=D, defence="none", attack="square", eps=0.1, threat="black-box", corrected_accuracy=0.74
        ),  # 0.810
        Thresholds(
            scale=D, defence="none", attack="square", eps=0.1, threat="grey-box", corrected_accuracy=0.74
        ),  # 0.810
        Thresholds(
            scale=D, defence="none", attack="square", eps=0.1, threat="white-box", corrected_accuracy=0.74
        ),  # 0.810
        Thresholds(scale=D, defence="ae-kl-ensemble", attack="fgsm", detection_auc=0.85),  # min 0.905
        Thresholds(scale=D, defence="ae-kl-ensemble", attack="pgd-linf", detection_auc=0.81),  # min 0.866
        Thresholds(scale=D, defence="ae-kl-ensemble", attack="square", detection_auc=0.80),  # min 0.853
        Thresholds(scale=D, defence="cvae-detector", attack="fgsm", detection_auc=0.72),  # min 0.778
        Thresholds(scale=D, defence="cvae-detector", attack="pgd-linf", detection_auc=0.72),  # min 0.777
        Thresholds(scale=D, defence="cvae-detector", attack="square", detection_auc=0.65),  # min 0.707
        Thresholds(scale=D, defence="feature-squeezing", attack="fgsm", detection_auc=0.86),  # min 0.916
        Thresholds(scale=D, defence="feature-squeezing", attack="pgd-linf", detection_auc=0.87),  # min 0.922
        Thresholds(scale=D, defence="feature-squeezing", attack="square", detection_auc=0.86),  # min 0.918
        Thresholds(scale=D, defence="magnet", attack="fgsm", detection_auc=0.65),  # min 0.702
        Thresholds(scale=D, defence="magnet", attack="pgd-linf", detection_auc=0.59),  # min 0.640
        Thresholds(scale=D, defence="magnet", attack="square", detection_auc=0.49),  # min 0.540
        Thresholds(scale=D, defence="ae-kl-ensemble", defended_clean_accuracy=0.86),  # 0.930
        Thresholds(scale=D, defence="cvae-detector", defended_clean_accuracy=0.88),  # 0.950
        Thresholds(scale=D, defence="feature-squeezing", defended_clean_accuracy=0.88),  # 0.950
        Thresholds(scale=D, defence="magnet", defended_clean_accuracy=0.76),  # 0.830
        Thresholds(scale=D, defence="none", defended_clean_accuracy=0.88),  # 0.950
    ],
)
