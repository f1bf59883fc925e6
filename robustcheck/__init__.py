"""robustcheck: evaluate adversarial defences for PyTorch image classifiers and gate releases on it."""

from __future__ import annotations

from robustcheck.errors import BudgetViolation, ConfigError, ModelContractError, RobustcheckError
from robustcheck.suite import Attack, Case, Defence, Scale, Suite, Thresholds

__version__ = "0.1.0"


def register_defence(name: str, *, replace: bool = False):  # type: ignore[no-untyped-def]
    """Class decorator registering a :class:`robustcheck.defences.BaseDefence` subclass under ``name``.

    The class is checked against the protocol at once (a detector must implement ``score``, a purifier
    ``purify``, a trainable defence ``fit``); a name clash is an error unless ``replace=True``.
    """
    from robustcheck.defences.registry import DEFENCES

    return DEFENCES.register(name, replace=replace)


def register_attack(name: str, *, replace: bool = False):  # type: ignore[no-untyped-def]
    """Class decorator registering a :class:`robustcheck.attacks.BaseAttack` subclass under ``name``."""
    from robustcheck.attacks.registry import ATTACKS

    return ATTACKS.register(name, replace=replace)


__all__ = [
    "Attack",
    "BudgetViolation",
    "Case",
    "ConfigError",
    "Defence",
    "ModelContractError",
    "RobustcheckError",
    "Scale",
    "Suite",
    "Thresholds",
    "__version__",
    "register_attack",
    "register_defence",
]
