"""Paper-scale Fashion-MNIST suite of 001 (Table 2): appendix A.2 classifier, ae-mse / ae-kl, FGSM ε 0.1–0.3
and PGD, grey-box and white-box.

Needs the torchvision Fashion-MNIST files: ``pytest --robustcheck --robustcheck-scale=paper
--robustcheck-data-root=DIR suites/paper_fashion_mnist.py`` (in practice on a GPU). Without a data root
every item is skipped with the reason. No bars yet: nothing here has been measured (no data, no GPU
on the development machine); the engine still gates budget violations at 0. For orientation, the paper
reports corrected accuracy 0.9169 / 0.9111 / 0.9055 for ae-kl under FGSM ε = 0.1 / 0.2 / 0.3 (grey-box).
"""

from __future__ import annotations

from robustcheck import Attack, Scale, Suite

SUITE = Suite(
    name="fashion-mnist-paper",
    dataset="fashion-mnist",
    classifier="fashion-mnist-cnn",
    defences=["none", "ae-mse", "ae-kl"],
    attacks=[Attack("fgsm", eps=[0.1, 0.2, 0.3]), Attack("pgd-linf", eps=[0.1], steps=40)],
    threat_models=["grey-box", "white-box"],
    seed=0,
    fpr=0.05,
    scales={
        "default": Scale(n_samples=1000, train_limit=None, classifier_epochs=40, defence_epochs=30),
        "paper": Scale(n_samples=None, train_limit=None, classifier_epochs=40, defence_epochs=50),
    },
)
