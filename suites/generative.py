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
0.155 defended clean accuracy), the lower measurement minus a margin (n = 200, one binomial standard
error of an accuracy ≤ 0.035; accuracy bars are measured − 0.07, about 2 SE, rounded down to 0.01; AUC
bars measured − 0.05). The measured bars are data, ``generative.bars.json`` beside this file (each with
its measured value and margin), written by ``benchmarks/bars_from_run.py mnist-generative <records>
--margin 0.07 --auc-margin 0.05 --clean-margin 0.07 --auc-attacks fgsm,pgd-linf --write
suites/generative.py``. The CVAE "noise is not adversarial" property is gated as ``detection_auc_all``
on random noise at most 0.5 + margin (``detection_auc_all`` is a higher-is-better metric, so the gate
uses the ``auc_all_from_chance`` metric: |AUC_all − 0.5|, lower is better; bar = measured + 0.05; set
by hand in the same file, which the tool keeps when it rewrites the rest). Measured here the CVAE does
NOT have that property (AUC_all on noise 0.705, feature squeezing 0.554): the bar is a regression gate
at the measured value, not 004's claim.
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
from robustcheck.bars import measured_bars

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
        # per-case bars from record 0003 of 2026-11-26 (benchmarks/bars_from_run.py; generative.bars.json)
        *measured_bars(__file__),
    ],
)
