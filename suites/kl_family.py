"""The KL-autoencoder family at CPU scale: ae-kl with temperature (eq 9), with the hidden-layer term
(eq 7–8), the checkpoint/architecture ensemble (eq 10–11), the MagNet baseline, the perceptual DAE of
002, against ``none`` and ``ae-mse`` — grey-box and white-box, FGSM and PGD.

Run: ``OMP_NUM_THREADS=1 pytest suites/kl_family.py --robustcheck``.

Scale. ``default`` here is smaller than the project default so the file runs in ~15 min on one CPU
thread: 300 attacked digits, defences trained 10 epochs, PGD capped at 20 steps; the classifier is the
project default's (20 epochs), so it is shared through the cache.

Bars: measured at scale ``default`` (CPU, seed 0, 2026-11-24; table in docs/kl_family.md) twice, with
models trained on 1 and on 2 threads (training is not bit-reproducible across thread counts, and the
white-box numbers of one retrained ae-kl moved by up to 0.08), the lower measurement minus a
margin of 0.06 for corrected accuracy (n = 300: one binomial SE ≤ 0.029, so ~2 SE), 0.03 for the
defence's lowest detection AUC and 0.04 for defended clean accuracy; cases measured below 0.10 get no
corrected-accuracy bar. The measured bars are data, ``kl_family.bars.json`` beside this file (each
with its measured value and margin); regenerate it with ``python benchmarks/bars_from_run.py
mnist-kl-family <records> --margin 0.06 --write suites/kl_family.py``.

Re-measured 2026-11-26 after the honest-numbers fixes (record 0003, ``pytest --robustcheck suites/``,
2 threads, torch 2.14.1; one measurement) and every bar reset from it with the margins above. Every
autoencoder is now initialised from an RNG seeded by the suite's seed (the initial weights used to come
from whatever the process had drawn before), so all were retrained: white-box numbers moved by up to
±0.10 (ae-kl PGD ε 0.1: 0.493 → 0.597; ae-kl-hl FGSM ε 0.1: 0.720 → 0.650). The ensemble's white-box x′
are now chosen by its exact vote (its gradient is still the surrogate's), and MagNet is attacked
through its reformer on every input (its label path).
"""

from __future__ import annotations

from robustcheck import Attack, Defence, Scale, Suite, Thresholds
from robustcheck.bars import measured_bars

D = "default"
ENSEMBLE = {"checkpoints": [0.5, 1.0], "architectures": ["conv", "dense"], "classifier_weight": 0.2}

SUITE = Suite(
    name="mnist-kl-family",
    dataset="mnist-embedded",
    classifier="mnist-cnn",
    defences=[
        "none",
        "ae-mse",
        "ae-kl",
        Defence("ae-kl", id="ae-kl-t0.5", temperature=0.5),
        Defence("ae-kl", id="ae-kl-hl", hidden_layer="8", hidden_dim=10, lam=1.0),
        Defence("ae-kl-ensemble", id="ae-kl-ens", **ENSEMBLE),
        Defence("ae-kl-ensemble", id="ae-kl-ens-primary", attack_target="primary", **ENSEMBLE),
        "magnet",
        Defence("perceptual-dae", pgd_steps=40, loss_net_epochs=5),
    ],
    attacks=[
        Attack("fgsm", eps=[0.1, 0.2]),
        Attack("pgd-linf", eps=[0.1], steps=40),
    ],
    threat_models=["grey-box", "white-box"],
    seed=0,
    fpr=0.05,
    scales={
        "default": Scale(
            n_samples=300, train_limit=None, classifier_epochs=20, defence_epochs=10, attack_steps=20
        ),
    },
    thresholds=[
        Thresholds(scale=D, clean_accuracy=0.90),  # 0.960
        # per-case bars from record 0003 of 2026-11-26 (benchmarks/bars_from_run.py; kl_family.bars.json)
        *measured_bars(__file__),
    ],
)
