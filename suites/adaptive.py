"""Adaptive (white-box, detector-aware) evaluation of the autoencoder defences on embedded MNIST-5k.

Compares, at ε = 0.1 (L∞), the grey-box attacks (crafted on C), the white-box oblivious attacks
(crafted on C∘P) and the detector-aware attacks (sigma-pgd: 004 eq 6.6; cw-detector: Carlini &
Wagner 2017 combined logits; bim-recon: 004 eq 7.15), plus the per-example worst case over the L∞
family. Attack-failure indicators are gated at 0 (``gradient_masking``, ``silent_success``).

Scale ``default`` is this suite's own, smaller one (100 test digits, 20 attack steps) so that it runs
on a shared CPU; training settings equal the default scale's, so the cached classifier and defences of
``suites/default.py`` are reused. Run:
``OMP_NUM_THREADS=1 python -m pytest suites/adaptive.py --robustcheck -q``.

Bars: measured value (comment) minus 0.07 for rates (n = 100: one binomial SE ≤ 0.05, margin ≈ 1.4 SE),
rounded down to 0.01; adaptive_success_rate gets measured + 0.07. Rates measured below 0.10 get no
lower bar (it could not fail).
"""

from __future__ import annotations

from robustcheck import Attack, Scale, Suite, Thresholds

D = "default"
SCALES = {
    "smoke": Scale(n_samples=32, train_limit=1200, classifier_epochs=3, defence_epochs=4, attack_steps=5),
    D: Scale(n_samples=100, train_limit=None, classifier_epochs=20, defence_epochs=30, attack_steps=20),
}

SUITE = Suite(
    name="mnist-adaptive",
    dataset="mnist-embedded",
    classifier="mnist-cnn",
    defences=["none", "ae-kl", "ae-mse"],
    attacks=[
        Attack("fgsm", eps=0.1),
        Attack("pgd-linf", eps=0.1, steps=40),
        Attack("square", eps=0.1, steps=300),
        Attack("sigma-pgd", eps=0.1, sigma=0.5, steps=40),
        Attack("cw-detector", eps=0.1, kappa=10.0, steps=40),
        Attack("bim-recon", eps=0.1, beta=1.0, steps=40),
    ],
    families={"linf": ["fgsm", "pgd-linf", "square", "sigma-pgd", "cw-detector", "bim-recon"]},
    threat_models=["grey-box", "white-box"],
    scales=SCALES,
    seed=0,
    fpr=0.05,
    thresholds=[
        Thresholds(silent_success=0),
        Thresholds(threat="white-box", gradient_masking=0),
    ],
)
