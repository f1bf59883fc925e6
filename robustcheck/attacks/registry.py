"""The attack registry. Every entry is checked when added: a :class:`BaseAttack` subclass with a known
norm whose constructor takes keyword-only parameters (the suite validates them by that signature)."""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any

from robustcheck.errors import ConfigError
from robustcheck.registry import Registry

if TYPE_CHECKING:
    from robustcheck.attacks.base import BaseAttack


def check_attack_class(name: str, obj: Any) -> None:
    from robustcheck.attacks.base import NORMS, BaseAttack
    from robustcheck.norms import Norm

    if not inspect.isclass(obj) or not issubclass(obj, BaseAttack):
        raise ConfigError(f"attack {name!r}: expected a robustcheck.attacks.BaseAttack subclass, got {obj!r}")
    if getattr(obj, "norm", None) not in NORMS:
        raise ConfigError(
            f"attack {name!r}: {obj.__qualname__}.norm must be one of {', '.join(NORMS)}, "
            f"got {getattr(obj, 'norm', None)!r}"
        )
    if not isinstance(obj.norm, Norm):  # a plain name: the Norm object it names
        obj.norm = Norm(obj.norm)
    for kind in (
        "minimization",
        "gradient_free",
        "single_step",
        "detector_aware",
        "noise",
        "supports_targeted",
    ):
        if not isinstance(getattr(obj, kind), bool):
            raise ConfigError(
                f"attack {name!r}: {obj.__qualname__}.{kind} must be True or False, "
                f"got {getattr(obj, kind)!r}"
            )
    single = obj.single_step_version
    if single is not None and not isinstance(single, str):
        raise ConfigError(
            f"attack {name!r}: {obj.__qualname__}.single_step_version must be a registered attack name or "
            f"None, got {single!r}"
        )
    init = obj.__init__
    try:
        params = inspect.signature(init).parameters.values()
    except (TypeError, ValueError):
        return
    positional = [
        p.name
        for i, p in enumerate(params)
        if i > 0 and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty
    ]
    if positional:
        raise ConfigError(
            f"attack {name!r}: {obj.__qualname__}.__init__ has required positional parameters "
            f"{positional}; attack parameters are keyword-only with defaults (def __init__(self, *, "
            f"..., targeted=False, seed=0, batch_size=250))"
        )


ATTACKS: Registry[type[BaseAttack]] = Registry(
    "attack", entry_point_group="robustcheck.attacks", validator=check_attack_class
)
