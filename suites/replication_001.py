"""Replication of seed 001 (the KL-divergence autoencoder, detector + corrector) on the embedded digits:
``mnist-replication-001``.

Run: ``pytest --robustcheck suites/replication_001.py`` (``--robustcheck-scale=paper`` for the full
settings; results beside the paper's in ``docs/replication.md``).

Paper setting (001 §4, Table 1, appendix B): MNIST, grey-box (the attacker knows the classifier, not the
defence), FGSM at ε 0.1 / 0.2 / 0.3, C&W-L2 (c = 100, 7 binary-search steps, 200 iterations, Adam lr
0.1) and SLIDE (q = 80, 10 steps); defences ``ae-mse`` (AE^MSE) and ``ae-kl`` (AE^KL, eq 5), both the
registered implementations with their default architecture. ε of the minimisation attacks: C&W-L2 has
no budget in the paper; here its x′ count within L2 ≤ 4 (MNIST C&W distortions are ~2). SLIDE's L1 bound
is 0.1 in B.2 on a pixel scale the paper does not state; here L1 ≤ 10 on [0, 1] pixels, as in
``suites/attacks.py``. Detector threshold at 5 % FPR on clean validation digits.

Paper numbers (``references``): Table 1 (test-set accuracy; "No Defence" is the classifier's accuracy
on x′, which is ``corrected_accuracy`` of the ``none`` defence), §4.2's clean accuracy of C(AE^KL(x))
(0.9944) and the grey-box C&W / SLIDE detection AUC 0.9992 (§4.2, Figure 5).

Scales: ``default`` = 200 attacked test digits, all 3,500 embedded training digits, classifier 20 epochs
and defences 30 epochs (the project default's training, so its trained models are reused from the
cache), C&W steps capped at 50: minutes on the 2-core CPU. ``paper`` = full MNIST (70,000 torchvision
digits from ``--robustcheck-data-root``; skipped without it), every test digit, the attacks' own steps,
defences 50 epochs (a GPU). The embedded data of the other scales is 5,000 digits, not MNIST's 70,000.

Bars: seeds 0, 1 and 2 at scale ``default`` (``--robustcheck-seed``: each re-splits the data and retrains
the classifier and the AEs; CPU, 1 thread, torch 2.14.1, 2026-11-27; records in
``docs/records/rep001_seed*.json``; seed 0 reproduced the first record, 0005 of 2026-11-26, exactly), the
lowest of the three minus a margin (n = 200: one binomial SE of an accuracy <= 0.035, so corrected and
defended clean accuracy - 0.07, about 2 SE; detection AUC - 0.05), none below 0.10. They gate our
measured state, not the paper's: the paper's numbers are the ``references``, never bars. Data in
``replication_001.bars.json``, written by ``python benchmarks/bars_from_run.py mnist-replication-001
docs/records/rep001_seed*.json --margin 0.07 --auc-margin 0.05 --clean-margin 0.07 --write
suites/replication_001.py``. Until 2026-11-27 the bars came from seed 0 alone; seeds 1 and 2 failed 7 and
3 of them (FGSM ε 0.2 / 0.3: the classifier's own FGSM accuracy moves 0.225 / 0.095 / 0.075 at ε 0.3).
"""

from __future__ import annotations

from robustcheck import Attack, Defence, Reference, Scale, Suite
from robustcheck.bars import measured_bars

SRC = "001 Table 1"
TABLE_1 = {  # attack id, ε -> (No Defence, AE^MSE, AE^KL)
    ("fgsm", 0.1): (0.9109, 0.9901, 0.9928),
    ("fgsm", 0.2): (0.5009, 0.9821, 0.9895),
    ("fgsm", 0.3): (0.1711, 0.9610, 0.9819),
    ("cw-l2", 4.0): (0.0058, 0.9887, 0.9928),
    ("slide", 10.0): (0.0001, 0.9891, 0.9923),
}

REFERENCES = (
    [
        Reference(
            metric="corrected_accuracy", value=v, defence=d, attack=a, eps=e, threat="grey-box", source=SRC
        )
        for (a, e), values in TABLE_1.items()
        for d, v in zip(("none", "ae-mse", "ae-kl"), values, strict=True)
    ]
    + [
        Reference(
            metric="corrected_accuracy",
            value=values[2],
            defence="ae-kl-denoising",
            attack=a,
            eps=e,
            threat="grey-box",
            source=f"{SRC} (AE^KL; the paper's AE is not denoising: this row trains with train_noise=0.5)",
        )
        for (a, e), values in TABLE_1.items()
    ]
    + [
        Reference(metric="clean_accuracy", value=0.9928, source=f"{SRC} (No Attack)"),
        Reference(metric="defended_clean_accuracy", value=0.9944, defence="ae-kl", source="001 §4.2"),
        Reference(
            metric="detection_auc", value=0.9992, defence="ae-kl", attack="cw-l2", source="001 §4.2, Fig 5"
        ),
        Reference(
            metric="detection_auc", value=0.9992, defence="ae-kl", attack="slide", source="001 §4.2, Fig 5"
        ),
    ]
)

SUITE = Suite(
    name="mnist-replication-001",
    dataset="mnist-embedded",
    classifier="mnist-cnn",
    defences=[
        "none",
        "ae-mse",
        "ae-kl",
        # not the paper's AE: the same A.1 network, loss and budget, trained as a denoising AE (the AE reads
        # clip(x + 0.5·n, 0, 1) and aims at M(x) of the clean digit). Issue 19 measured it at FGSM ε 0.3:
        # 0.700 corrected against the plain AE-KL's 0.395 (σ 0.3: 0.605; shifts of 2 px instead: 0.235)
        Defence("ae-kl", id="ae-kl-denoising", train_noise=0.5),
    ],
    attacks=[
        Attack("fgsm", eps=[0.1, 0.2, 0.3]),
        Attack("cw-l2", eps=[4.0], steps=200, search_steps=7, initial_const=100.0, lr=0.1),  # 001 B.1
        Attack("slide", eps=[10.0], q=80.0, steps=10),  # 001 B.2: q = 80, 10 steps
    ],
    threat_models=["grey-box"],
    seed=0,
    fpr=0.05,
    scales={
        "smoke": Scale(n_samples=32, train_limit=600, classifier_epochs=2, defence_epochs=2, attack_steps=5),
        "default": Scale(
            n_samples=200, train_limit=None, classifier_epochs=20, defence_epochs=30, attack_steps=50
        ),
        "paper": Scale(
            n_samples=None, train_limit=None, classifier_epochs=20, defence_epochs=50, dataset="mnist"
        ),
    },
    thresholds=[*measured_bars(__file__)],  # seeds 0-2 (replication_001.bars.json)
    references=REFERENCES,
)
