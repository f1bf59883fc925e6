"""Attacks: one file each, registered by name, under :class:`BaseAttack`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from robustcheck.attacks.base import (
    AttackResult,
    BaseAttack,
    accepted_params,
    batched_predict,
    margin,
    params_with_source,
    project,
)
from robustcheck.attacks.registry import ATTACKS
from robustcheck.errors import ConfigError, RobustcheckError
from robustcheck.validation import check_value, describe, resolve_annotation


def validate_params(name: str, params: Mapping[str, Any]) -> None:
    """Raise one clear :class:`ConfigError` for an unknown attack, a parameter its constructor does not take,
    a value of the wrong type for the parameter's annotation (``targeted="no"``, ``steps="abc"``: a bool
    must be a bool, an int an int, a float a finite number) or one the attack's own checks refuse (it is
    constructed once, with a dummy seed)."""
    if not isinstance(name, str):
        raise ConfigError(f"attack name must be a registered name (a string), got {describe(name)}")
    cls = ATTACKS.get(name)
    if not isinstance(params, Mapping):
        raise ConfigError(f"attack {name!r}: parameters must be a mapping, got {describe(params)}")
    accepted = params_with_source(cls)
    for key, value in params.items():
        if key in ("seed", "batch_size"):
            raise ConfigError(f"attack {name!r}: {key!r} is set by the suite, not per attack")
        if key == "norm" and key not in accepted:
            same = [n for n in ATTACKS.list() if getattr(ATTACKS.get(n), "norm", None) == value]
            raise ConfigError(
                f"attack {name!r} works in {getattr(cls, 'norm', '?')} only and takes no 'norm' parameter; "
                f"attacks in {describe(value)}: {', '.join(same) or '(none)'}"
            )
        if key not in accepted:
            raise ConfigError(
                f"attack {name!r} has no parameter {key!r}; accepted: "
                f"{', '.join(sorted(k for k in accepted if k not in ('seed', 'batch_size')))}"
            )
        param, func = accepted[key]
        check_value(f"attack {name!r}", key, value, resolve_annotation(param.annotation, func))
    try:
        cls(**params, seed=0, batch_size=1)
    except RobustcheckError:
        raise
    except Exception as exc:
        raise ConfigError(
            f"attack {name!r}: parameters {describe(dict(params))} rejected: {type(exc).__name__}: {exc}"
        ) from None


def build_attack(name: str, params: dict[str, Any], *, seed: int, batch_size: int = 250) -> BaseAttack:
    """Instantiate a registered attack after validating its parameters."""
    validate_params(name, params)
    cls = ATTACKS.get(name)
    try:
        return cls(**params, seed=seed, batch_size=batch_size)
    except TypeError as exc:
        raise ConfigError(f"attack {name!r}: {exc}") from None


__all__ = [
    "ATTACKS",
    "AttackResult",
    "BaseAttack",
    "accepted_params_of",
    "batched_predict",
    "build_attack",
    "margin",
    "project",
    "validate_params",
]


def accepted_params_of(name: str) -> set[str]:
    return set(accepted_params(ATTACKS.get(name)))


def _register_builtin_attacks() -> None:
    """Import every module of this package: each attack module registers its attacks, so adding an
    attack is adding one file (sorted: the registry's order does not depend on the file system)."""
    import importlib
    import pkgutil

    for module in sorted(m.name for m in pkgutil.iter_modules(__path__)):
        importlib.import_module(f"{__name__}.{module}")


_register_builtin_attacks()
