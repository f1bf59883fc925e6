"""Reference classifiers of the papers, a registry, the model contract and the training loop."""

from __future__ import annotations

from robustcheck.models.contract import LogProbabilities, check_classifier, frozen_eval
from robustcheck.models.registry import CLASSIFIERS, ClassifierInfo, register_classifier
from robustcheck.models.sources import ModelFile, Normalized
from robustcheck.models.training import train_classifier

# importing a module registers its reference classifiers
from robustcheck.models import cifar, fashion, generic, mnist  # noqa: F401  # isort: skip

__all__ = [
    "CLASSIFIERS",
    "ClassifierInfo",
    "LogProbabilities",
    "ModelFile",
    "Normalized",
    "check_classifier",
    "frozen_eval",
    "register_classifier",
    "train_classifier",
]
