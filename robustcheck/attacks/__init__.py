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


def validate_params(name: str, params: dict[str, Any]) -> None:
    """Raise a clear error for an unknown attack or a parameter its constructor does not take."""
    cls = ATTACKS.get(name)
    accepted = accepted_params(cls)  # type: ignore[arg-type]
    for key, value in params.items():
        if key in ("seed", "batch_size"):
            raise ConfigError(f"attack {name!r}: {key!r} is set by the suite, not per attack")
        if key == "norm" and key not in accepted:
            same = [n for n in ATTACKS.list() if getattr(ATTACKS.get(n), "norm", None) == value]
            raise ConfigError(
                f"attack {name!r} works in {getattr(cls, 'norm', '?')} only and takes no 'norm' parameter; "
                f"attacks in {value!r}: {', '.join(same) or '(none)'}"
            )
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


# importing each attack module registers it (one line per module: parallel branches merge cleanly)
from robustcheck.attacks import autoattack as _autoattack  # noqa: F401
from robustcheck.attacks import bim_l2 as _bim_l2  # noqa: F401
from robustcheck.attacks import bim_linf as _bim_linf  # noqa: F401
from robustcheck.attacks import bim_recon as _bim_recon  # noqa: F401
from robustcheck.attacks import cw_detector as _cw_detector  # noqa: F401
from robustcheck.attacks import cw_l2 as _cw_l2  # noqa: F401
from robustcheck.attacks import cw_linf as _cw_linf  # noqa: F401
from robustcheck.attacks import deepfool as _deepfool  # noqa: F401
from robustcheck.attacks import fgsm as _fgsm  # noqa: F401
from robustcheck.attacks import fgsm_l2 as _fgsm_l2  # noqa: F401
from robustcheck.attacks import pgd as _pgd  # noqa: F401
from robustcheck.attacks import pgd_l2 as _pgd_l2  # noqa: F401
from robustcheck.attacks import random_noise as _random_noise  # noqa: F401
from robustcheck.attacks import rfgsm as _rfgsm  # noqa: F401
from robustcheck.attacks import sigma_pgd as _sigma_pgd  # noqa: F401
from robustcheck.attacks import slide as _slide  # noqa: F401
from robustcheck.attacks import square as _square  # noqa: F401
