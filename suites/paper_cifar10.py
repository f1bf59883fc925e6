"""Paper-scale CIFAR-10 suites of 001 (Tables 3–4): the simple CNN and ResNet-56 of appendix A.3 with the
A.3 autoencoder — ae-mse, ae-kl, ae-kl with T = 0.5 (eq 9) and with the hidden-layer term (eq 7–8) —
FGSM and PGD, grey-box and white-box.

Needs the torchvision CIFAR-10 files and, in practice, a GPU: ``pytest --robustcheck
--robustcheck-scale=paper --robustcheck-data-root=DIR suites/paper_cifar10.py``. Without a data root
every item is skipped with the reason. No bars yet (never measured here); budget violations are gated.
Hidden layers as in 001 §4.2: after the first max-pooling of the simple CNN (projected on 50 dims, HL1
of Table 5) and before the activation of the last residual block of ResNet-56 (20 dims, Table 6).
"""

from __future__ import annotations

from robustcheck import Attack, Defence, Scale, Suite

AE = {"architecture": "cifar10", "latent_dim": 40}
SCALES = {
    "default": Scale(n_samples=1000, train_limit=None, classifier_epochs=300, defence_epochs=30),
    "paper": Scale(n_samples=None, train_limit=None, classifier_epochs=300, defence_epochs=50),
}
ATTACKS = [Attack("fgsm", eps=[0.1, 0.2, 0.3]), Attack("pgd-linf", eps=[8 / 255], steps=40)]


def _defences(hidden_layer: str, hidden_dim: int) -> list[Defence | str]:
    return [
        "none",
        Defence("ae-mse", **AE),
        Defence("ae-kl", **AE),
        Defence("ae-kl", id="ae-kl-t0.5", temperature=0.5, **AE),
        Defence("ae-kl", id="ae-kl-hl", hidden_layer=hidden_layer, hidden_dim=hidden_dim, **AE),
    ]


SUITE_CNN = Suite(
    name="cifar10-cnn-paper",
    dataset="cifar10",
    classifier="cifar10-cnn",
    defences=_defences("1.6", 50),
    attacks=ATTACKS,
    threat_models=["grey-box", "white-box"],
    seed=0,
    fpr=0.05,
    scales=SCALES,
)

SUITE_RESNET = Suite(
    name="cifar10-resnet56-paper",
    dataset="cifar10",
    classifier="cifar10-resnet56",
    defences=_defences("blocks.26.bn2", 20),
    attacks=ATTACKS,
    threat_models=["grey-box", "white-box"],
    seed=0,
    fpr=0.05,
    scales=SCALES,
)
