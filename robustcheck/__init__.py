"""robustcheck: evaluate adversarial defences for PyTorch image classifiers and gate releases on it."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from robustcheck.errors import BudgetViolation, ConfigError, ModelContractError, RobustcheckError

if TYPE_CHECKING:
    from robustcheck.attacks.base import BaseAttack
    from robustcheck.defences.base import BaseDefence, FitContext
    from robustcheck.suite import Attack, Case, Defence, Reference, Scale, Suite, Thresholds

__version__ = "0.1.0"

#: A registered defence: a BaseDefence subclass or a factory returning one.
_DefenceFactory = TypeVar("_DefenceFactory", bound=Callable[..., Any])

#: Public names imported on first use (PEP 562): ``import robustcheck`` — which pytest does for every
#: run through the plugin — stays free of torch until a suite or a defence is actually used.
_LAZY = {
    "Attack": "robustcheck.suite",
    "Case": "robustcheck.suite",
    "Defence": "robustcheck.suite",
    "Reference": "robustcheck.suite",
    "Scale": "robustcheck.suite",
    "Suite": "robustcheck.suite",
    "Thresholds": "robustcheck.suite",
    "BaseDefence": "robustcheck.defences.base",
    "FitContext": "robustcheck.defences.base",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'robustcheck' has no attribute {name!r}")
    import importlib

    # not cached here: pytester's in-process runs drop modules imported during a run, and a cached class
    # would then differ from the one the re-imported module defines
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


def register_defence(name: str, *, replace: bool = False) -> Callable[[_DefenceFactory], _DefenceFactory]:
    """Class decorator registering a :class:`robustcheck.defences.BaseDefence` subclass under ``name``.

    The class is checked against the protocol at once (a detector must implement ``score``, a purifier
    ``purify``, a trainable defence ``fit``); a name clash is an error unless ``replace=True``.
    """
    from robustcheck.defences.registry import DEFENCES

    return DEFENCES.register(name, replace=replace)


def register_attack(name: str, *, replace: bool = False) -> Callable[[type[BaseAttack]], type[BaseAttack]]:
    """Class decorator registering a :class:`robustcheck.attacks.BaseAttack` subclass under ``name``."""
    from robustcheck.attacks.registry import ATTACKS

    return ATTACKS.register(name, replace=replace)


__all__ = [
    "Attack",
    "BaseDefence",
    "BudgetViolation",
    "Case",
    "ConfigError",
    "Defence",
    "FitContext",
    "ModelContractError",
    "Reference",
    "RobustcheckError",
    "Scale",
    "Suite",
    "Thresholds",
    "__version__",
    "register_attack",
    "register_defence",
]
