"""The generative-defences suite (seeds 003 and 004) on embedded MNIST-5k, CPU-sized: ``mnist-generative``.

Run: ``OMP_NUM_THREADS=1 pytest suites/generative.py --robustcheck``.

Defences: the 003 purifier family (``ae``, ``dae`` at stp 0.3 and 0.1, ``cae``, ``vae``, ``dvae`` at
posterior-std scale 1 and 0, ``cvae-contractive``), the 004 class-conditional VAE detector
(``cvae-detector``), the 004 VAE input-optimisation purifier (``vae-purifier``, variant E, 10
iterations) and ``feature-squeezing``, against ``none``. Attacks: FGSM (ε 0.1, 0.3), PGD-L∞ (ε 0.1,
steps capped at 10 by the scale) and uniform random noise (ε 0.3, 004's "RANDOM" row of Table 6.2:
a detector should not fire on it, AUC ≈ 0.5). Grey-box (x′ on C) and white-box (x′ on the defence's
``attack_model``: C∘P for the 003 purifiers with VAE sampling disabled, BPDA straight-through for
``vae-purifier``, C for the detectors).

Scale: this suite has its own smaller ``default`` (200 test digits, 5 defence epochs, 10 attack
steps) because the shared default (500 digits, 30 defence epochs) does not fit the shared 2-core CPU
with ten defences; the classifier settings equal the shared default, so the trained classifier of
``mnist-default`` is reused from the cache.

Bars: measured at this suite's ``default`` scale twice (CPU, torch 2.15, seed 0, 2026-11-24: record
0001 with models trained on 1 thread, and the ``pytest --robustcheck suites/`` run with 2 threads;
training is not bit-reproducible across thread counts and the undertrained ``ae`` moved from 0.300 to
0.155 defended clean accuracy), the lower measurement in the comment next to each bar
(n = 200, one binomial standard error of an accuracy ≤ 0.035; accuracy bars are measured − 0.07,
about 2 SE, rounded down to 0.01; AUC bars measured − 0.05). The CVAE "noise is not adversarial"
property is gated as ``detection_auc_all`` on random noise at most 0.5 + margin (``detection_auc_all``
is a higher-is-better metric, so the gate uses the ``auc_all_from_chance`` metric: |AUC_all − 0.5|, lower is
better; bar = measured + 0.05). Measured here the CVAE does NOT have that property (AUC_all on noise
0.705, feature squeezing 0.554): the bar is a regression gate at the measured value, not 004's claim.
No corrected-accuracy bar where the measured value is below 0.10 (it could not fail); no detection
AUC bar on random noise (5 successful x′ only).
Known gap: at 5 epochs of batch 128 the 003 AE/VAE purifiers are undertrained (reconstructions
near the mean digit, defended clean accuracy 0.23–0.42); their bars gate that state.
"""

from __future__ import annotations

from robustcheck import Attack, Defence, Scale, Suite, Thresholds

D = "default"

SUITE = Suite(
    name="mnist-generative",
    dataset="mnist-embedded",
    classifier="mnist-cnn",
    defences=[
        "none",
        "ae",
        "dae",
        Defence("dae", id="dae-stp0.1", stp=0.1),
        "cae",
        "vae",
        "dvae",
        Defence("dvae", id="dvae-scale0", scale=0.0),
        "cvae-contractive",
        "cvae-detector",
        "vae-purifier",
        "feature-squeezing",
    ],
    attacks=[
        Attack("fgsm", eps=[0.1, 0.3]),
        Attack("pgd-linf", eps=[0.1], steps=40),
        Attack("random-noise", eps=[0.3]),
    ],
    threat_models=["grey-box", "white-box"],
    seed=0,
    fpr=0.05,
    scales={"default": Scale(n_samples=200, train_limit=None, classifier_epochs=20, defence_epochs=5,
                             attack_steps=10)},
    thresholds=[
        Thresholds(scale=D, clean_accuracy=0.87),  # measured 0.945 − 0.07
        Thresholds(scale=D, defence="ae", defended_clean_accuracy=0.08),  # min of 2 runs: measured 0.155
        Thresholds(scale=D, defence="cae", defended_clean_accuracy=0.34),  # min of 2 runs: measured 0.410
        Thresholds(scale=D, defence="cvae-contractive", defended_clean_accuracy=0.33),  # min of 2 runs: measured 0.405
        Thresholds(scale=D, defence="cvae-detector", defended_clean_accuracy=0.87),  # min of 2 runs: measured 0.945
        Thresholds(scale=D, defence="dae-stp0.1", defended_clean_accuracy=0.34),  # min of 2 runs: measured 0.415
        Thresholds(scale=D, defence="dae", defended_clean_accuracy=0.25),  # min of 2 runs: measured 0.325
        Thresholds(scale=D, defence="dvae-scale0", defended_clean_accuracy=0.33),  # min of 2 runs: measured 0.400
        Thresholds(scale=D, defence="dvae", defended_clean_accuracy=0.32),  # min of 2 runs: measured 0.395
        Thresholds(scale=D, defence="feature-squeezing", defended_clean_accuracy=0.87),  # min of 2 runs: measured 0.945
        Thresholds(scale=D, defence="vae-purifier", defended_clean_accuracy=0.88),  # min of 2 runs: measured 0.950
        Thresholds(scale=D, defence="vae", defended_clean_accuracy=0.15),  # min of 2 runs: measured 0.225
        Thresholds(scale=D, defence="ae", attack="fgsm", eps=0.1, threat="grey-box", corrected_accuracy=0.08),  # min of 2 runs: corr 0.155
        Thresholds(scale=D, defence="ae", attack="fgsm", eps=0.1, threat="white-box", corrected_accuracy=0.05),  # min of 2 runs: corr 0.125
        Thresholds(scale=D, defence="ae", attack="fgsm", eps=0.3, threat="grey-box", corrected_accuracy=0.05),  # min of 2 runs: corr 0.120
        Thresholds(scale=D, defence="ae", attack="pgd-linf", eps=0.1, threat="grey-box", corrected_accuracy=0.08),  # min of 2 runs: corr 0.155
        Thresholds(scale=D, defence="ae", attack="pgd-linf", eps=0.1, threat="white-box", corrected_accuracy=0.04),  # min of 2 runs: corr 0.115
        Thresholds(scale=D, defence="ae", attack="random-noise", eps=0.3, threat="grey-box", corrected_accuracy=0.07),  # min of 2 runs: corr 0.145
        Thresholds(scale=D, defence="ae", attack="random-noise", eps=0.3, threat="white-box", corrected_accuracy=0.07),  # min of 2 runs: corr 0.145
        Thresholds(scale=D, defence="cae", attack="fgsm", eps=0.1, threat="grey-box", corrected_accuracy=0.34),  # min of 2 runs: corr 0.410
        Thresholds(scale=D, defence="cae", attack="fgsm", eps=0.1, threat="white-box", corrected_accuracy=0.16),  # min of 2 runs: corr 0.235
        Thresholds(scale=D, defence="cae", attack="fgsm", eps=0.3, threat="grey-box", corrected_accuracy=0.13),  # min of 2 runs: corr 0.205
        Thresholds(scale=D, defence="cae", attack="pgd-linf", eps=0.1, threat="grey-box", corrected_accuracy=0.33),  # min of 2 runs: corr 0.400
        Thresholds(scale=D, defence="cae", attack="pgd-linf", eps=0.1, threat="white-box", corrected_accuracy=0.11),  # min of 2 runs: corr 0.185
        Thresholds(scale=D, defence="cae", attack="random-noise", eps=0.3, threat="grey-box", corrected_accuracy=0.35),  # min of 2 runs: corr 0.425
        Thresholds(scale=D, defence="cae", attack="random-noise", eps=0.3, threat="white-box", corrected_accuracy=0.35),  # min of 2 runs: corr 0.425
        Thresholds(scale=D, defence="cvae-contractive", attack="fgsm", eps=0.1, threat="grey-box", corrected_accuracy=0.28),  # min of 2 runs: corr 0.350
        Thresholds(scale=D, defence="cvae-contractive", attack="fgsm", eps=0.1, threat="white-box", corrected_accuracy=0.17),  # min of 2 runs: corr 0.245
        Thresholds(scale=D, defence="cvae-contractive", attack="fgsm", eps=0.3, threat="grey-box", corrected_accuracy=0.16),  # min of 2 runs: corr 0.235
        Thresholds(scale=D, defence="cvae-contractive", attack="pgd-linf", eps=0.1, threat="grey-box", corrected_accuracy=0.27),  # min of 2 runs: corr 0.345
        Thresholds(scale=D, defence="cvae-contractive", attack="pgd-linf", eps=0.1, threat="white-box", corrected_accuracy=0.14),  # min of 2 runs: corr 0.215
        Thresholds(scale=D, defence="cvae-contractive", attack="random-noise", eps=0.3, threat="grey-box", corrected_accuracy=0.27),  # min of 2 runs: corr 0.340
        Thresholds(scale=D, defence="cvae-contractive", attack="random-noise", eps=0.3, threat="white-box", corrected_accuracy=0.27),  # min of 2 runs: corr 0.340
        Thresholds(scale=D, defence="cvae-detector", attack="fgsm", eps=0.1, threat="grey-box", corrected_accuracy=0.74, detection_auc=0.75),  # min of 2 runs: corr 0.810; auc 0.800
        Thresholds(scale=D, defence="cvae-detector", attack="fgsm", eps=0.1, threat="white-box", corrected_accuracy=0.74),  # min of 2 runs: corr 0.810
        Thresholds(scale=D, defence="cvae-detector", attack="fgsm", eps=0.3, threat="grey-box", corrected_accuracy=0.14, detection_auc=0.90),  # min of 2 runs: corr 0.215; auc 0.959
        Thresholds(scale=D, defence="cvae-detector", attack="fgsm", eps=0.3, threat="white-box", corrected_accuracy=0.14),  # min of 2 runs: corr 0.215
        Thresholds(scale=D, defence="cvae-detector", attack="pgd-linf", eps=0.1, threat="grey-box", corrected_accuracy=0.68, detection_auc=0.69),  # min of 2 runs: corr 0.755; auc 0.750
        Thresholds(scale=D, defence="cvae-detector", attack="pgd-linf", eps=0.1, threat="white-box", corrected_accuracy=0.68),  # min of 2 runs: corr 0.755
        Thresholds(scale=D, defence="cvae-detector", attack="random-noise", eps=0.3, threat="grey-box", corrected_accuracy=0.85, auc_all_from_chance=0.26),  # min of 2 runs: corr 0.920; |auc_all-0.5| 0.205 + 0.05
        Thresholds(scale=D, defence="cvae-detector", attack="random-noise", eps=0.3, threat="white-box", corrected_accuracy=0.85),  # min of 2 runs: corr 0.920
        Thresholds(scale=D, defence="dae-stp0.1", attack="fgsm", eps=0.1, threat="grey-box", corrected_accuracy=0.36),  # min of 2 runs: corr 0.430
        Thresholds(scale=D, defence="dae-stp0.1", attack="fgsm", eps=0.1, threat="white-box", corrected_accuracy=0.18),  # min of 2 runs: corr 0.255
        Thresholds(scale=D, defence="dae-stp0.1", attack="fgsm", eps=0.3, threat="grey-box", corrected_accuracy=0.17),  # min of 2 runs: corr 0.245
        Thresholds(scale=D, defence="dae-stp0.1", attack="pgd-linf", eps=0.1, threat="grey-box", corrected_accuracy=0.38),  # min of 2 runs: corr 0.450
        Thresholds(scale=D, defence="dae-stp0.1", attack="pgd-linf", eps=0.1, threat="white-box", corrected_accuracy=0.17),  # min of 2 runs: corr 0.240
        Thresholds(scale=D, defence="dae-stp0.1", attack="random-noise", eps=0.3, threat="grey-box", corrected_accuracy=0.39),  # min of 2 runs: corr 0.465
        Thresholds(scale=D, defence="dae-stp0.1", attack="random-noise", eps=0.3, threat="white-box", corrected_accuracy=0.39),  # min of 2 runs: corr 0.465
        Thresholds(scale=D, defence="dae", attack="fgsm", eps=0.1, threat="grey-box", corrected_accuracy=0.24),  # min of 2 runs: corr 0.315
        Thresholds(scale=D, defence="dae", attack="fgsm", eps=0.1, threat="white-box", corrected_accuracy=0.16),  # min of 2 runs: corr 0.235
        Thresholds(scale=D, defence="dae", attack="fgsm", eps=0.3, threat="grey-box", corrected_accuracy=0.20),  # min of 2 runs: corr 0.275
        Thresholds(scale=D, defence="dae", attack="pgd-linf", eps=0.1, threat="grey-box", corrected_accuracy=0.25),  # min of 2 runs: corr 0.320
        Thresholds(scale=D, defence="dae", attack="pgd-linf", eps=0.1, threat="white-box", corrected_accuracy=0.14),  # min of 2 runs: corr 0.210
        Thresholds(scale=D, defence="dae", attack="random-noise", eps=0.3, threat="grey-box", corrected_accuracy=0.27),  # min of 2 runs: corr 0.345
        Thresholds(scale=D, defence="dae", attack="random-noise", eps=0.3, threat="white-box", corrected_accuracy=0.27),  # min of 2 runs: corr 0.345
        Thresholds(scale=D, defence="dvae-scale0", attack="fgsm", eps=0.1, threat="grey-box", corrected_accuracy=0.31),  # min of 2 runs: corr 0.385
        Thresholds(scale=D, defence="dvae-scale0", attack="fgsm", eps=0.1, threat="white-box", corrected_accuracy=0.20),  # min of 2 runs: corr 0.275
        Thresholds(scale=D, defence="dvae-scale0", attack="fgsm", eps=0.3, threat="grey-box", corrected_accuracy=0.22),  # min of 2 runs: corr 0.290
        Thresholds(scale=D, defence="dvae-scale0", attack="pgd-linf", eps=0.1, threat="grey-box", corrected_accuracy=0.30),  # min of 2 runs: corr 0.375
        Thresholds(scale=D, defence="dvae-scale0", attack="pgd-linf", eps=0.1, threat="white-box", corrected_accuracy=0.19),  # min of 2 runs: corr 0.265
        Thresholds(scale=D, defence="dvae-scale0", attack="random-noise", eps=0.3, threat="grey-box", corrected_accuracy=0.31),  # min of 2 runs: corr 0.380
        Thresholds(scale=D, defence="dvae-scale0", attack="random-noise", eps=0.3, threat="white-box", corrected_accuracy=0.31),  # min of 2 runs: corr 0.380
        Thresholds(scale=D, defence="dvae", attack="fgsm", eps=0.1, threat="grey-box", corrected_accuracy=0.31),  # min of 2 runs: corr 0.385
        Thresholds(scale=D, defence="dvae", attack="fgsm", eps=0.1, threat="white-box", corrected_accuracy=0.24),  # min of 2 runs: corr 0.315
        Thresholds(scale=D, defence="dvae", attack="fgsm", eps=0.3, threat="grey-box", corrected_accuracy=0.25),  # min of 2 runs: corr 0.325
        Thresholds(scale=D, defence="dvae", attack="pgd-linf", eps=0.1, threat="grey-box", corrected_accuracy=0.31),  # min of 2 runs: corr 0.380
        Thresholds(scale=D, defence="dvae", attack="pgd-linf", eps=0.1, threat="white-box", corrected_accuracy=0.22),  # min of 2 runs: corr 0.295
        Thresholds(scale=D, defence="dvae", attack="random-noise", eps=0.3, threat="grey-box", corrected_accuracy=0.32),  # min of 2 runs: corr 0.395
        Thresholds(scale=D, defence="dvae", attack="random-noise", eps=0.3, threat="white-box", corrected_accuracy=0.32),  # min of 2 runs: corr 0.395
        Thresholds(scale=D, defence="feature-squeezing", attack="fgsm", eps=0.1, threat="grey-box", corrected_accuracy=0.74, detection_auc=0.90),  # min of 2 runs: corr 0.810; auc 0.958
        Thresholds(scale=D, defence="feature-squeezing", attack="fgsm", eps=0.1, threat="white-box", corrected_accuracy=0.74),  # min of 2 runs: corr 0.810
        Thresholds(scale=D, defence="feature-squeezing", attack="fgsm", eps=0.3, threat="grey-box", corrected_accuracy=0.14, detection_auc=0.92),  # min of 2 runs: corr 0.215; auc 0.976
        Thresholds(scale=D, defence="feature-squeezing", attack="fgsm", eps=0.3, threat="white-box", corrected_accuracy=0.14),  # min of 2 runs: corr 0.215
        Thresholds(scale=D, defence="feature-squeezing", attack="pgd-linf", eps=0.1, threat="grey-box", corrected_accuracy=0.68, detection_auc=0.91),  # min of 2 runs: corr 0.755; auc 0.967
        Thresholds(scale=D, defence="feature-squeezing", attack="pgd-linf", eps=0.1, threat="white-box", corrected_accuracy=0.68),  # min of 2 runs: corr 0.755
        Thresholds(scale=D, defence="feature-squeezing", attack="random-noise", eps=0.3, threat="grey-box", corrected_accuracy=0.85, auc_all_from_chance=0.11),  # min of 2 runs: corr 0.920; |auc_all-0.5| 0.054 + 0.05
        Thresholds(scale=D, defence="feature-squeezing", attack="random-noise", eps=0.3, threat="white-box", corrected_accuracy=0.85),  # min of 2 runs: corr 0.920
        Thresholds(scale=D, defence="none", attack="fgsm", eps=0.1, corrected_accuracy=0.74),  # min of 2 runs: corr 0.810
        Thresholds(scale=D, defence="none", attack="fgsm", eps=0.3, corrected_accuracy=0.14),  # min of 2 runs: corr 0.215
        Thresholds(scale=D, defence="none", attack="pgd-linf", eps=0.1, corrected_accuracy=0.68),  # min of 2 runs: corr 0.755
        Thresholds(scale=D, defence="none", attack="random-noise", eps=0.3, corrected_accuracy=0.85),  # min of 2 runs: corr 0.920
        Thresholds(scale=D, defence="vae-purifier", attack="fgsm", eps=0.1, threat="grey-box", corrected_accuracy=0.76),  # min of 2 runs: corr 0.830
        Thresholds(scale=D, defence="vae-purifier", attack="fgsm", eps=0.1, threat="white-box", corrected_accuracy=0.76),  # min of 2 runs: corr 0.835
        Thresholds(scale=D, defence="vae-purifier", attack="fgsm", eps=0.3, threat="grey-box", corrected_accuracy=0.35),  # min of 2 runs: corr 0.420
        Thresholds(scale=D, defence="vae-purifier", attack="fgsm", eps=0.3, threat="white-box", corrected_accuracy=0.34),  # min of 2 runs: corr 0.410
        Thresholds(scale=D, defence="vae-purifier", attack="pgd-linf", eps=0.1, threat="grey-box", corrected_accuracy=0.72),  # min of 2 runs: corr 0.790
        Thresholds(scale=D, defence="vae-purifier", attack="pgd-linf", eps=0.1, threat="white-box", corrected_accuracy=0.71),  # min of 2 runs: corr 0.785
        Thresholds(scale=D, defence="vae-purifier", attack="random-noise", eps=0.3, threat="grey-box", corrected_accuracy=0.87),  # min of 2 runs: corr 0.940
        Thresholds(scale=D, defence="vae-purifier", attack="random-noise", eps=0.3, threat="white-box", corrected_accuracy=0.87),  # min of 2 runs: corr 0.940
        Thresholds(scale=D, defence="vae", attack="fgsm", eps=0.1, threat="grey-box", corrected_accuracy=0.14),  # min of 2 runs: corr 0.215
        Thresholds(scale=D, defence="vae", attack="fgsm", eps=0.1, threat="white-box", corrected_accuracy=0.09),  # min of 2 runs: corr 0.165
        Thresholds(scale=D, defence="vae", attack="fgsm", eps=0.3, threat="grey-box", corrected_accuracy=0.12),  # min of 2 runs: corr 0.190
        Thresholds(scale=D, defence="vae", attack="pgd-linf", eps=0.1, threat="grey-box", corrected_accuracy=0.14),  # min of 2 runs: corr 0.210
        Thresholds(scale=D, defence="vae", attack="pgd-linf", eps=0.1, threat="white-box", corrected_accuracy=0.08),  # min of 2 runs: corr 0.155
        Thresholds(scale=D, defence="vae", attack="random-noise", eps=0.3, threat="grey-box", corrected_accuracy=0.13),  # min of 2 runs: corr 0.200
        Thresholds(scale=D, defence="vae", attack="random-noise", eps=0.3, threat="white-box", corrected_accuracy=0.13),  # min of 2 runs: corr 0.200
    ],
)
