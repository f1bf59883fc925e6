"""Reference classifiers of the papers, a registry, the model contract and the training loop."""

from __future__ import annotations

from robustcheck.models.contract import check_classifier, frozen_eval
from robustcheck.models.registry import CLASSIFIERS, ClassifierInfo, register_classifier
from robustcheck.models.training import train_classifier

from robustcheck.models import mnist as _mnist  # noqa: F401  (registers the reference models)
from robustcheck.models import cifar as _cifar  # noqa: F401
from robustcheck.models import fashion as _fashion  # noqa: F401

__all__ = ["CLASSIFIERS", "ClassifierInfo", "register_classifier", "train_classifier", "check_classifier",
           "frozen_eval"]
