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

Re-measured 2026-11-26 after the honest-numbers fixes (record 0003, ``pytest --robustcheck suites/``,
2 threads, torch 2.14.1; one measurement) and every bar reset from it with the margins above (the
``auc_all_from_chance`` gates measured the same). The 003 purifiers are now initialised from RNGs
seeded by the suite's seed; they are so undertrained at 5 epochs that the retrain moved them a lot
(``ae`` defended clean 0.155 → 0.605, ``cae`` 0.410 → 0.150): their bars gate a state, not a result.
The VAE purifiers now evaluate and are attacked with one fixed noise vector per latent dimension
(batch-independent), and ``vae-purifier`` goes through BPDA by declaration.
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
    scales={
        "default": Scale(
            n_samples=200, train_limit=None, classifier_epochs=20, defence_epochs=5, attack_steps=10
        )
    },
    thresholds=[
        Thresholds(scale=D, clean_accuracy=0.87),  # measured 0.945 − 0.07
        Thresholds(
            scale=D, defence="ae", attack="fgsm", eps=0.1, threat="grey-box", corrected_accuracy=0.45
        ),  # 0.520
        Thresholds(
            scale=D, defence="ae", attack="fgsm", eps=0.1, threat="white-box", corrected_accuracy=0.24
        ),  # 0.310
        Thresholds(
            scale=D, defence="ae", attack="fgsm", eps=0.3, threat="grey-box", corrected_accuracy=0.27
        ),  # 0.340
        Thresholds(
            scale=D, defence="ae", attack="pgd-linf", eps=0.1, threat="grey-box", corrected_accuracy=0.45
        ),  # 0.525
        Thresholds(
            scale=D, defence="ae", attack="pgd-linf", eps=0.1, threat="white-box", corrected_accuracy=0.22
        ),  # 0.295
        Thresholds(
            scale=D, defence="ae", attack="random-noise", eps=0.3, threat="grey-box", corrected_accuracy=0.49
        ),  # 0.560
        Thresholds(
            scale=D, defence="ae", attack="random-noise", eps=0.3, threat="white-box", corrected_accuracy=0.49
        ),  # 0.560
        Thresholds(
            scale=D, defence="cae", attack="fgsm", eps=0.1, threat="grey-box", corrected_accuracy=0.08
        ),  # 0.150
        Thresholds(
            scale=D, defence="cae", attack="fgsm", eps=0.1, threat="white-box", corrected_accuracy=0.06
        ),  # 0.135
        Thresholds(
            scale=D, defence="cae", attack="fgsm", eps=0.3, threat="grey-box", corrected_accuracy=0.08
        ),  # 0.150
        Thresholds(
            scale=D, defence="cae", attack="pgd-linf", eps=0.1, threat="grey-box", corrected_accuracy=0.07
        ),  # 0.145
        Thresholds(
            scale=D, defence="cae", attack="pgd-linf", eps=0.1, threat="white-box", corrected_accuracy=0.06
        ),  # 0.135
        Thresholds(
            scale=D, defence="cae", attack="random-noise", eps=0.3, threat="grey-box", corrected_accuracy=0.07
        ),  # 0.145
        Thresholds(
            scale=D,
            defence="cae",
            attack="random-noise",
            eps=0.3,
            threat="white-box",
            corrected_accuracy=0.07,
        ),  # 0.145
        Thresholds(
            scale=D,
            defence="cvae-contractive",
            attack="fgsm",
            eps=0.1,
            threat="grey-box",
            corrected_accuracy=0.18,
        ),  # 0.250
        Thresholds(
            scale=D,
            defence="cvae-contractive",
            attack="fgsm",
            eps=0.1,
            threat="white-box",
            corrected_accuracy=0.12,
        ),  # 0.190
        Thresholds(
            scale=D,
            defence="cvae-contractive",
            attack="fgsm",
            eps=0.3,
            threat="grey-box",
            corrected_accuracy=0.08,
        ),  # 0.155
        Thresholds(
            scale=D,
            defence="cvae-contractive",
            attack="pgd-linf",
            eps=0.1,
            threat="grey-box",
            corrected_accuracy=0.18,
        ),  # 0.255
        Thresholds(
            scale=D,
            defence="cvae-contractive",
            attack="pgd-linf",
            eps=0.1,
            threat="white-box",
            corrected_accuracy=0.11,
        ),  # 0.185
        Thresholds(
            scale=D,
            defence="cvae-contractive",
            attack="random-noise",
            eps=0.3,
            threat="grey-box",
            corrected_accuracy=0.17,
        ),  # 0.245
        Thresholds(
            scale=D,
            defence="cvae-contractive",
            attack="random-noise",
            eps=0.3,
            threat="white-box",
            corrected_accuracy=0.17,
        ),  # 0.245
        Thresholds(
            scale=D,
            defence="cvae-detector",
            attack="fgsm",
            eps=0.1,
            threat="grey-box",
            corrected_accuracy=0.74,
        ),  # 0.810
        Thresholds(
            scale=D,
            defence="cvae-detector",
            attack="fgsm",
            eps=0.1,
            threat="white-box",
            corrected_accuracy=0.74,
        ),  # 0.810
        Thresholds(
            scale=D,
            defence="cvae-detector",
            attack="fgsm",
            eps=0.3,
            threat="grey-box",
            corrected_accuracy=0.14,
        ),  # 0.215
        Thresholds(
            scale=D,
            defence="cvae-detector",
            attack="fgsm",
            eps=0.3,
            threat="white-box",
            corrected_accuracy=0.14,
        ),  # 0.215
        Thresholds(
            scale=D,
            defence="cvae-detector",
            attack="pgd-linf",
            eps=0.1,
            threat="grey-box",
            corrected_accuracy=0.68,
        ),  # 0.755
        Thresholds(
            scale=D,
            defence="cvae-detector",
            attack="pgd-linf",
            eps=0.1,
            threat="white-box",
            corrected_accuracy=0.68,
        ),  # 0.755
        Thresholds(
            scale=D,
            defence="cvae-detector",
            attack="random-noise",
            eps=0.3,
            threat="grey-box",
            corrected_accuracy=0.85,
        ),  # 0.920
        Thresholds(
            scale=D,
            defence="cvae-detector",
            attack="random-noise",
            eps=0.3,
            threat="grey-box",
            detection_auc=0.88,
        ),  # 0.931
        Thresholds(
            scale=D,
            defence="cvae-detector",
            attack="random-noise",
            eps=0.3,
            threat="white-box",
            corrected_accuracy=0.85,
        ),  # 0.920
        Thresholds(
            scale=D,
            defence="cvae-detector",
            attack="random-noise",
            eps=0.3,
            threat="white-box",
            detection_auc=0.88,
        ),  # 0.931
        Thresholds(
            scale=D, defence="dae-stp0.1", attack="fgsm", eps=0.1, threat="grey-box", corrected_accuracy=0.58
        ),  # 0.650
        Thresholds(
            scale=D, defence="dae-stp0.1", attack="fgsm", eps=0.1, threat="white-box", corrected_accuracy=0.39
        ),  # 0.465
        Thresholds(
            scale=D, defence="dae-stp0.1", attack="fgsm", eps=0.3, threat="grey-box", corrected_accuracy=0.22
        ),  # 0.295
        Thresholds(
            scale=D,
            defence="dae-stp0.1",
            attack="pgd-linf",
            eps=0.1,
            threat="grey-box",
            corrected_accuracy=0.58,
        ),  # 0.650
        Thresholds(
            scale=D,
            defence="dae-stp0.1",
            attack="pgd-linf",
            eps=0.1,
            threat="white-box",
            corrected_accuracy=0.28,
        ),  # 0.355
        Thresholds(
            scale=D,
            defence="dae-stp0.1",
            attack="random-noise",
            eps=0.3,
            threat="grey-box",
            corrected_accuracy=0.59,
        ),  # 0.660
        Thresholds(
            scale=D,
            defence="dae-stp0.1",
            attack="random-noise",
            eps=0.3,
            threat="white-box",
            corrected_accuracy=0.59,
        ),  # 0.660
        Thresholds(
            scale=D, defence="dae", attack="fgsm", eps=0.1, threat="grey-box", corrected_accuracy=0.13
        ),  # 0.200
        Thresholds(
            scale=D, defence="dae", attack="fgsm", eps=0.1, threat="white-box", corrected_accuracy=0.07
        ),  # 0.140
        Thresholds(
            scale=D, defence="dae", attack="fgsm", eps=0.3, threat="grey-box", corrected_accuracy=0.07
        ),  # 0.140
        Thresholds(
            scale=D, defence="dae", attack="pgd-linf", eps=0.1, threat="grey-box", corrected_accuracy=0.12
        ),  # 0.195
        Thresholds(
            scale=D, defence="dae", attack="pgd-linf", eps=0.1, threat="white-box", corrected_accuracy=0.07
        ),  # 0.140
        Thresholds(
            scale=D, defence="dae", attack="random-noise", eps=0.3, threat="grey-box", corrected_accuracy=0.14
        ),  # 0.210
        Thresholds(
            scale=D,
            defence="dae",
            attack="random-noise",
            eps=0.3,
            threat="white-box",
            corrected_accuracy=0.14,
        ),  # 0.210
        Thresholds(
            scale=D, defence="dvae-scale0", attack="fgsm", eps=0.1, threat="grey-box", corrected_accuracy=0.30
        ),  # 0.375
        Thresholds(
            scale=D,
            defence="dvae-scale0",
            attack="fgsm",
            eps=0.1,
            threat="white-box",
            corrected_accuracy=0.17,
        ),  # 0.245
        Thresholds(
            scale=D, defence="dvae-scale0", attack="fgsm", eps=0.3, threat="grey-box", corrected_accuracy=0.18
        ),  # 0.255
        Thresholds(
            scale=D,
            defence="dvae-scale0",
            attack="pgd-linf",
            eps=0.1,
            threat="grey-box",
            corrected_accuracy=0.31,
        ),  # 0.380
        Thresholds(
            scale=D,
            defence="dvae-scale0",
            attack="pgd-linf",
            eps=0.1,
            threat="white-box",
            corrected_accuracy=0.15,
        ),  # 0.225
        Thresholds(
            scale=D,
            defence="dvae-scale0",
            attack="random-noise",
            eps=0.3,
            threat="grey-box",
            corrected_accuracy=0.32,
        ),  # 0.390
        Thresholds(
            scale=D,
            defence="dvae-scale0",
            attack="random-noise",
            eps=0.3,
            threat="white-box",
            corrected_accuracy=0.32,
        ),  # 0.390
        Thresholds(
            scale=D, defence="dvae", attack="fgsm", eps=0.1, threat="grey-box", corrected_accuracy=0.40
        ),  # 0.470
        Thresholds(
            scale=D, defence="dvae", attack="fgsm", eps=0.1, threat="white-box", corrected_accuracy=0.25
        ),  # 0.325
        Thresholds(
            scale=D, defence="dvae", attack="fgsm", eps=0.3, threat="grey-box", corrected_accuracy=0.29
        ),  # 0.360
        Thresholds(
            scale=D, defence="dvae", attack="pgd-linf", eps=0.1, threat="grey-box", corrected_accuracy=0.39
        ),  # 0.465
        Thresholds(
            scale=D, defence="dvae", attack="pgd-linf", eps=0.1, threat="white-box", corrected_accuracy=0.24
        ),  # 0.310
        Thresholds(
            scale=D,
            defence="dvae",
            attack="random-noise",
            eps=0.3,
            threat="grey-box",
            corrected_accuracy=0.43,
        ),  # 0.505
        Thresholds(
            scale=D,
            defence="dvae",
            attack="random-noise",
            eps=0.3,
            threat="white-box",
            corrected_accuracy=0.43,
        ),  # 0.505
        Thresholds(
            scale=D,
            defence="feature-squeezing",
            attack="fgsm",
            eps=0.1,
            threat="grey-box",
            corrected_accuracy=0.74,
        ),  # 0.810
        Thresholds(
            scale=D,
            defence="feature-squeezing",
            attack="fgsm",
            eps=0.1,
            threat="white-box",
            corrected_accuracy=0.74,
        ),  # 0.810
        Thresholds(
            scale=D,
            defence="feature-squeezing",
            attack="fgsm",
            eps=0.3,
            threat="grey-box",
            corrected_accuracy=0.14,
        ),  # 0.215
        Thresholds(
            scale=D,
            defence="feature-squeezing",
            attack="fgsm",
            eps=0.3,
            threat="white-box",
            corrected_accuracy=0.14,
        ),  # 0.215
        Thresholds(
            scale=D,
            defence="feature-squeezing",
            attack="pgd-linf",
            eps=0.1,
            threat="grey-box",
            corrected_accuracy=0.68,
        ),  # 0.755
        Thresholds(
            scale=D,
            defence="feature-squeezing",
            attack="pgd-linf",
            eps=0.1,
            threat="white-box",
            corrected_accuracy=0.68,
        ),  # 0.755
        Thresholds(
            scale=D,
            defence="feature-squeezing",
            attack="random-noise",
            eps=0.3,
            threat="grey-box",
            corrected_accuracy=0.85,
        ),  # 0.920
        Thresholds(
            scale=D,
            defence="feature-squeezing",
            attack="random-noise",
            eps=0.3,
            threat="grey-box",
            detection_auc=0.88,
        ),  # 0.934
        Thresholds(
            scale=D,
            defence="feature-squeezing",
            attack="random-noise",
            eps=0.3,
            threat="white-box",
            corrected_accuracy=0.85,
        ),  # 0.920
        Thresholds(
            scale=D,
            defence="feature-squeezing",
            attack="random-noise",
            eps=0.3,
            threat="white-box",
            detection_auc=0.88,
        ),  # 0.934
        Thresholds(
            scale=D, defence="none", attack="fgsm", eps=0.1, threat="grey-box", corrected_accuracy=0.74
        ),  # 0.810
        Thresholds(
            scale=D, defence="none", attack="fgsm", eps=0.1, threat="white-box", corrected_accuracy=0.74
        ),  # 0.810
        Thresholds(
            scale=D, defence="none", attack="fgsm", eps=0.3, threat="grey-box", corrected_accuracy=0.14
        ),  # 0.215
        Thresholds(
            scale=D, defence="none", attack="fgsm", eps=0.3, threat="white-box", corrected_accuracy=0.14
        ),  # 0.215
        Thresholds(
            scale=D, defence="none", attack="pgd-linf", eps=0.1, threat="grey-box", corrected_accuracy=0.68
        ),  # 0.755
        Thresholds(
            scale=D, defence="none", attack="pgd-linf", eps=0.1, threat="white-box", corrected_accuracy=0.68
        ),  # 0.755
        Thresholds(
            scale=D,
            defence="none",
            attack="random-noise",
            eps=0.3,
            threat="grey-box",
            corrected_accuracy=0.85,
        ),  # 0.920
        Thresholds(
            scale=D,
            defence="none",
            attack="random-noise",
            eps=0.3,
            threat="white-box",
            corrected_accuracy=0.85,
        ),  # 0.920
        Thresholds(
            scale=D,
            defence="vae-purifier",
            attack="fgsm",
            eps=0.1,
            threat="grey-box",
            corrected_accuracy=0.75,
        ),  # 0.825
        Thresholds(
            scale=D,
            defence="vae-purifier",
            attack="fgsm",
            eps=0.1,
            threat="white-box",
            corrected_accuracy=0.76,
        ),  # 0.835
        Thresholds(
            scale=D,
            defence="vae-purifier",
            attack="fgsm",
            eps=0.3,
            threat="grey-box",
            corrected_accuracy=0.36,
        ),  # 0.435
        Thresholds(
            scale=D,
            defence="vae-purifier",
            attack="fgsm",
            eps=0.3,
            threat="white-box",
            corrected_accuracy=0.34,
        ),  # 0.415
        Thresholds(
            scale=D,
            defence="vae-purifier",
            attack="pgd-linf",
            eps=0.1,
            threat="grey-box",
            corrected_accuracy=0.71,
        ),  # 0.780
        Thresholds(
            scale=D,
            defence="vae-purifier",
            attack="pgd-linf",
            eps=0.1,
            threat="white-box",
            corrected_accuracy=0.71,
        ),  # 0.785
        Thresholds(
            scale=D,
            defence="vae-purifier",
            attack="random-noise",
            eps=0.3,
            threat="grey-box",
            corrected_accuracy=0.87,
        ),  # 0.945
        Thresholds(
            scale=D,
            defence="vae-purifier",
            attack="random-noise",
            eps=0.3,
            threat="white-box",
            corrected_accuracy=0.87,
        ),  # 0.945
        Thresholds(
            scale=D, defence="vae", attack="fgsm", eps=0.1, threat="grey-box", corrected_accuracy=0.31
        ),  # 0.380
        Thresholds(
            scale=D, defence="vae", attack="fgsm", eps=0.1, threat="white-box", corrected_accuracy=0.22
        ),  # 0.295
        Thresholds(
            scale=D, defence="vae", attack="fgsm", eps=0.3, threat="grey-box", corrected_accuracy=0.22
        ),  # 0.290
        Thresholds(
            scale=D, defence="vae", attack="pgd-linf", eps=0.1, threat="grey-box", corrected_accuracy=0.31
        ),  # 0.380
        Thresholds(
            scale=D, defence="vae", attack="pgd-linf", eps=0.1, threat="white-box", corrected_accuracy=0.20
        ),  # 0.275
        Thresholds(
            scale=D, defence="vae", attack="random-noise", eps=0.3, threat="grey-box", corrected_accuracy=0.29
        ),  # 0.365
        Thresholds(
            scale=D,
            defence="vae",
            attack="random-noise",
            eps=0.3,
            threat="white-box",
            corrected_accuracy=0.29,
        ),  # 0.365
        Thresholds(scale=D, defence="cvae-detector", attack="fgsm", detection_auc=0.76),  # min 0.817
        Thresholds(scale=D, defence="cvae-detector", attack="pgd-linf", detection_auc=0.73),  # min 0.783
        Thresholds(scale=D, defence="feature-squeezing", attack="fgsm", detection_auc=0.90),  # min 0.958
        Thresholds(scale=D, defence="feature-squeezing", attack="pgd-linf", detection_auc=0.91),  # min 0.967
        Thresholds(scale=D, defence="ae", defended_clean_accuracy=0.53),  # 0.605
        Thresholds(scale=D, defence="cae", defended_clean_accuracy=0.08),  # 0.150
        Thresholds(scale=D, defence="cvae-contractive", defended_clean_accuracy=0.20),  # 0.270
        Thresholds(scale=D, defence="cvae-detector", defended_clean_accuracy=0.87),  # 0.945
        Thresholds(scale=D, defence="dae", defended_clean_accuracy=0.18),  # 0.255
        Thresholds(scale=D, defence="dae-stp0.1", defended_clean_accuracy=0.64),  # 0.715
        Thresholds(scale=D, defence="dvae", defended_clean_accuracy=0.40),  # 0.475
        Thresholds(scale=D, defence="dvae-scale0", defended_clean_accuracy=0.36),  # 0.430
        Thresholds(scale=D, defence="feature-squeezing", defended_clean_accuracy=0.87),  # 0.945
        Thresholds(scale=D, defence="none", defended_clean_accuracy=0.87),  # 0.945
        Thresholds(scale=D, defence="vae", defended_clean_accuracy=0.31),  # 0.385
        Thresholds(scale=D, defence="vae-purifier", defended_clean_accuracy=0.87),  # 0.945
        Thresholds(
            scale=D,
            defence="cvae-detector",
            attack="random-noise",
            eps=0.3,
            threat="grey-box",
            auc_all_from_chance=0.26,
        ),  # |auc_all-0.5| 0.205 (2026-11-26, as in both earlier runs) + 0.05
        Thresholds(
            scale=D,
            defence="feature-squeezing",
            attack="random-noise",
            eps=0.3,
            threat="grey-box",
            auc_all_from_chance=0.11,
        ),  # |auc_all-0.5| 0.054 (2026-11-26, as in both earlier runs) + 0.05
    ],
)
