"""The default suite: embedded MNIST-5k, the KL paper's classifier (A.1), CPU-sized.

Run: ``pytest --robustcheck suites/`` (``--robustcheck-scale=smoke`` for a quick look).
"""

from __future__ import annotations

from robustcheck import Attack, Suite, Thresholds

SUITE = Suite(
    name="mnist-default",
    dataset="mnist-embedded",
    classifier="mnist-cnn",
    defences=["none", "ae-kl", "ae-mse"],
    attacks=[
        Attack("fgsm", eps=[0.1, 0.2, 0.3]),
        Attack("pgd-linf", eps=[0.1, 0.3], steps=40),
    ],
    threat_models=["grey-box", "white-box"],
    seed=0,
    fpr=0.05,
    thresholds=[],
)
