"""Attacks: one file each, registered by name, under :class:`BaseAttack`."""

from __future__ import annotations

from typing import Any

from robustcheck.attacks.base import (
    AttackResult,
    BaseAttack,
    accepted_params,
    batched_predict,
    margin,
    project,
)
from robustcheck.attacks.registry import ATTACKS
from robustcheck.errors import ConfigError

# One module per attack; importing a module registers it.
from robustcheck.attacks import (  # noqa: E402,F401  # isort: skip
    fgsm,
    pgd,
    random_noise,
)


def validate_params(name: str, params: dict[str, Any]) -> None:
    """Raise a clear error for an unknown attack or a parameter its constructor does not take."""
    cls = ATTACKS.get(name)
    accepted = accepted_params(cls)  # type: ignore[arg-type]
    for key in params:
        if key in ("seed", "batch_size"):
            raise ConfigError(f"attack {name!r}: {key!r} is set by the suite, not per attack")
        if key not in accepted:
            raise ConfigError(
                f"attack {name!r} has no parameter {key!r}; accepted: {', '.join(sorted(accepted))}"
            )


def build_attack(name: str, params: dict[str, Any], *, seed: int, batch_size: int = 250) -> BaseAttack:
    """Instantiate a registered attack after validating its parameters."""
    validate_params(name, params)
    cls = ATTACKS.get(name)
    try:
        return cls(**params, seed=seed, batch_size=batch_size)  # type: ignore[call-arg]
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
    return set(accepted_params(ATTACKS.get(name)))  # type: ignore[arg-type]
