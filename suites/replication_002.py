"""Replication of seed 002 (the perceptual-loss denoising autoencoder) on the embedded digits:
``mnist-replication-002``.

Run: ``pytest --robustcheck suites/replication_002.py``.

Paper setting (002 §4): MNIST, grey-box (the attacker knows the classifier, not the denoiser), FGSM and
PGD-L∞ at ε 0.2, PGD 100 iterations of step 0.1; the denoiser trained on FGSM-targeted + PGD inputs with
the perceptual loss (eq 4): the registered ``perceptual-dae`` with its defaults (ε 0.2, PGD step 0.1,
independent loss network). The paper's classifier (two 5×5 conv layers 20/50 channels, FC 500, 99.5 %
clean) is close to the registered ``mnist-cnn`` (not identical).

Paper numbers (``references``): the seed's text of Table 1 (MNIST) is only partly extracted: the
"Unsecured" rows read 22.1 % (FGSM) and 16.1 % (PGD); the defended MNIST number is taken from the
contributions list ("83.0 % MNIST using a powerful attack"; the CIFAR-10 twin, 38.5 %, is the PGD row
of Table 2, so 83.0 % is read as PGD). No FGSM number of the defence could be read: none is given.

Scales: ``default`` = 200 test digits, 3,500 training digits, classifier 20 epochs (shared with the
project default), denoiser 20 epochs (issue 19: ``benchmarks/epoch_curve.py`` of 2026-11-27 measured
defended clean accuracy 0.580 / 0.760 / 0.760 at 10 / 20 / 40 epochs: 20 is the plateau; it stays below
0.93, see docs/replication.md), PGD capped at 40 steps; ``paper`` = full MNIST from the data root (skipped
without it), every test digit, 100 PGD steps, 50 epochs. Measured at ``default``: record 0007 (10
epochs) and record 0011 (20 epochs: 4 min 41 s on 1 CPU thread, classifier and DAE trained in the run);
tables in docs/replication.md.

Bars (``replication_002.bars.json``): from three runs at scale ``default`` with seeds 0, 1 and 2
(``--robustcheck-seed``: each re-splits the data and retrains the classifier, the loss network and the
DAEs; CPU, 1 thread, torch 2.14.1, 2026-11-26/27; records in ``docs/records/rep002_*.json``; the
``perceptual-dae-generic`` row was added later and measured by ``-k`` runs at seeds 0 and 1), the lowest of
the three minus 0.07 (n = 200: ~2 SE) for corrected and defended clean accuracy, none below 0.10. Written by
``python benchmarks/bars_from_run.py mnist-replication-002 docs/records/rep002_*.json --margin 0.07
--clean-margin 0.07 --write suites/replication_002.py``. 002's own network varies a lot with the seed
(defended clean 0.760 / 0.715 / 0.635), so its bars are loose; the generic row's are not (0.930-0.960).
"""

from __future__ import annotations

from robustcheck import Attack, Defence, Reference, Scale, Suite
from robustcheck.bars import measured_bars

SRC = "002 Table 1 (partly extracted)"

SUITE = Suite(
    name="mnist-replication-002",
    dataset="mnist-embedded",
    classifier="mnist-cnn",
    defences=[
        "none",
        Defence("perceptual-dae", eps=0.2, pgd_alpha=0.1),
        # the same loss, training set and budget through the generic convolutional autoencoder (3 strided
        # conv stages to 4×4, a 64-d code) instead of 002's network (stride-3 conv and two max-pools to a
        # 2×2×8 code): issue 19 measured 0.930 defended clean accuracy at 20 epochs against 002's 0.760
        # (0.850 with a 4× or 16× wider code), so 002's spatial bottleneck, not the loss, caps it
        Defence(
            "perceptual-dae", id="perceptual-dae-generic", eps=0.2, pgd_alpha=0.1, architecture="generic"
        ),
    ],
    attacks=[
        Attack("fgsm", eps=[0.2]),
        Attack("pgd-linf", eps=[0.2], steps=100, alpha=0.1),  # 002 §4.2: 100 iterations, step κ = 0.1
    ],
    threat_models=["grey-box"],
    seed=0,
    fpr=0.05,
    scales={
        "smoke": Scale(n_samples=32, train_limit=600, classifier_epochs=2, defence_epochs=2, attack_steps=5),
        "default": Scale(
            n_samples=200, train_limit=None, classifier_epochs=20, defence_epochs=20, attack_steps=40
        ),
        "paper": Scale(
            n_samples=None, train_limit=None, classifier_epochs=20, defence_epochs=50, dataset="mnist"
        ),
    },
    references=[
        Reference(metric="corrected_accuracy", value=0.221, defence="none", attack="fgsm", source=SRC),
        Reference(metric="corrected_accuracy", value=0.161, defence="none", attack="pgd-linf", source=SRC),
        Reference(
            metric="corrected_accuracy",
            value=0.830,
            defence="perceptual-dae",
            attack="pgd-linf",
            source="002 §1 contributions (83.0 % MNIST, read as PGD)",
        ),
        Reference(
            metric="corrected_accuracy",
            value=0.830,
            defence="perceptual-dae-generic",
            attack="pgd-linf",
            source="002 §1 (83.0 % MNIST, PGD; 002's network: this row is the generic autoencoder)",
        ),
        Reference(metric="clean_accuracy", value=0.995, source="002 §4.2 (its classifier: 99.5 %)"),
    ],
    thresholds=[*measured_bars(__file__)],  # seeds 0-2 (replication_002.bars.json)
)
