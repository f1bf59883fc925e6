"""The KL-autoencoder family at CPU scale: ae-kl with temperature (eq 9), with the hidden-layer term
(eq 7–8), the checkpoint/architecture ensemble (eq 10–11), the MagNet baseline, the perceptual DAE of 002, against ``none`` and
``ae-mse`` — grey-box and white-box, FGSM and PGD.

Run: ``OMP_NUM_THREADS=1 pytest suites/kl_family.py --robustcheck``.

Scale. ``default`` here is smaller than the project default so the file runs in ~15 min on one CPU
thread: 300 attacked digits, defences trained 10 epochs, PGD capped at 20 steps; the classifier is the
project default's (20 epochs), so it is shared through the cache.

Bars: measured at scale ``default`` (CPU, seed 0; see docs/kl_family.md) minus a margin of 0.06 for
corrected accuracy (n = 300: one binomial SE ≤ 0.029, so ~2 SE) and 0.03 for detection AUC; cases
measured below 0.10 get no corrected-accuracy bar.
"""

from __future__ import annotations

from robustcheck import Attack, Defence, Scale, Suite, Thresholds

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
        "default": Scale(n_samples=300, train_limit=None, classifier_epochs=20, defence_epochs=10, attack_steps=20),
    },
    thresholds=[
        Thresholds(scale=D, clean_accuracy=0.90),
    ],
)
