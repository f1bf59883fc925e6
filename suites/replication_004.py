"""Replication of seed 004 ch. 6 (the class-conditional VAE reconstruction-error detector) on the embedded
digits: ``mnist-replication-004``.

Run: ``pytest --robustcheck suites/replication_004.py``.

Paper setting (004 §6, Table 6.1–6.2): MNIST, grey-box attacks on the classifier, the registered
``cvae-detector`` (Table 6.1 architecture, z 128, p-values from the training reconstruction errors),
attacks of Table 6.2's MNIST column: random noise ε 0.1, FGSM ε 0.15, FGSM-L2 ε 1.5, R-FGSM ε 0.1 with
the random step 0.05, PGD-L∞ ε 0.1, 12 steps of 0.02, C&W-L2 and DeepFool (no budget in the paper;
here their x′ count within L2 ≤ 4). R-FGSM-L2 (ε (0.05, 1.5)) is not a registered attack: not run.

Paper numbers (``references``), Table 6.2 MNIST: the ROC AUC of the p-value score, clean vs attacked
images (``detection_auc_all``: the paper's ROC is over the attacked set, and its RANDOM row, 0.52, only
has that reading), and the error rate as ``adversarial_accuracy`` = 1 − error rate.

Scales: ``default`` = 200 test digits, 3,500 training digits, classifier 20 epochs (shared), CVAE 80
epochs (issue 19: ``benchmarks/epoch_curve.py`` of 2026-11-27 measured the AUC on successful x′ at
10 / 20 / 40 / 80 / 160 epochs: FGSM ε 0.15 0.896 / 0.929 / 0.959 / 0.965 / 0.950, DeepFool 0.733 /
0.762 / 0.807 / 0.847 / 0.849: the curve levels off at 80; see docs/replication.md), iterative attacks
capped at 50 steps; ``paper`` = full MNIST from the data root (skipped without it),
every test digit, 50 epochs. Measured at ``default``: record 0006 (10
epochs), record 0010 (40 epochs: 3 min 38 s on 1 CPU thread, classifier and CVAE trained in the run) and
the 80-epoch run of docs/replication.md; tables there.

Bars (``replication_004.bars.json``): from three runs at scale ``default`` with seeds 0, 1 and 2
(``--robustcheck-seed``: each seed re-splits the data and retrains the classifier and the CVAE; CPU, 1
thread, torch 2.14.1, 2026-11-27; the records are in ``docs/records/rep004_seed*.json``), the lowest of the
three minus a margin: corrected accuracy − 0.07 (n = 200: ~2 SE; none below 0.10), detection AUC on the
successful x′ per attack − 0.05 (the seeds' spread is ≤ 0.02), defended clean accuracy − 0.07. No AUC bar
for random noise (0 or 1 successful x′: ``--min-auc-examples 10``), and none on the reference metric (AUC
over all x′), which the attacks' low success rate at the paper's ε dominates. Written by
``python benchmarks/bars_from_run.py mnist-replication-004 docs/records/rep004_seed*.json --margin 0.07
--auc-margin 0.05 --clean-margin 0.07 --auc-attacks fgsm,fgsm-l2,r-fgsm,pgd-linf,cw-l2,deepfool
--min-auc-examples 10 --write suites/replication_004.py``. They gate our measured state, not the paper's.
"""

from __future__ import annotations

from robustcheck import Attack, Reference, Scale, Suite
from robustcheck.bars import measured_bars

SRC = "004 Table 6.2 (MNIST)"
TABLE_6_2 = {  # attack id: (error rate %, AUC)
    "random-noise": (2.3, 0.52),
    "fgsm": (90.8, 0.99),
    "fgsm-l2": (53.3, 0.95),
    "r-fgsm": (91.3, 0.99),
    "pgd-linf": (82.13, 0.974),
    "cw-l2": (100.0, 0.98),
    "deepfool": (97.3, 0.962),
}

SUITE = Suite(
    name="mnist-replication-004",
    dataset="mnist-embedded",
    classifier="mnist-cnn",
    defences=["cvae-detector"],
    attacks=[
        Attack("random-noise", eps=[0.1]),
        Attack("fgsm", eps=[0.15]),
        Attack("fgsm-l2", eps=[1.5]),
        Attack("r-fgsm", eps=[0.1], alpha=0.05),
        Attack("pgd-linf", eps=[0.1], steps=12, alpha=0.02),
        Attack("cw-l2", eps=[4.0], steps=100, search_steps=5),
        Attack("deepfool", eps=[4.0], steps=50, overshoot=0.02),
    ],
    threat_models=["grey-box"],
    seed=0,
    fpr=0.05,
    scales={
        "smoke": Scale(n_samples=32, train_limit=600, classifier_epochs=2, defence_epochs=2, attack_steps=5),
        "default": Scale(
            n_samples=200, train_limit=None, classifier_epochs=20, defence_epochs=80, attack_steps=50
        ),
        "paper": Scale(
            n_samples=None, train_limit=None, classifier_epochs=20, defence_epochs=50, dataset="mnist"
        ),
    },
    references=[
        *(
            Reference(metric="detection_auc_all", value=auc, attack=a, source=SRC)
            for a, (_, auc) in TABLE_6_2.items()
        ),
        *(
            Reference(
                metric="adversarial_accuracy",
                value=round(1 - err / 100, 4),
                attack=a,
                source=f"{SRC}, 1 − error rate",
            )
            for a, (err, _) in TABLE_6_2.items()
        ),
        Reference(metric="clean_accuracy", value=0.978, source=f"{SRC}, NORMAL: 1 − 2.2 % error"),
    ],
    thresholds=[*measured_bars(__file__)],  # seeds 0-2 (replication_004.bars.json)
)
