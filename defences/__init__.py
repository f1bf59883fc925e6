"""Defences: one file per family, a small protocol, and a registry."""

from __future__ import annotations

from robustcheck.defences.base import BaseDefence, DefenceProtocol, Detector, FitContext, Purifier
from robustcheck.defences.registry import DEFENCES


def _register_builtin_defences() -> None:
    """Import every module of this package: each defence module registers its defences, so adding a
    defence is adding one file (sorted: the registry's order does not depend on the file system)."""
    import importlib
    import pkgutil

    for module in sorted(m.name for m in pkgutil.iter_modules(__path__)):
        importlib.import_module(f"{__name__}.{module}")


_register_builtin_defences()

__all__ = ["DEFENCES", "BaseDefence", "DefenceProtocol", "Detector", "FitContext", "Purifier"]
