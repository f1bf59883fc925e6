"""The defence registry: built-ins register with ``@DEFENCES.register``; installed packages through the
``robustcheck.defences`` entry-point group. Every entry is checked against the protocol when added."""

from __future__ import annotations

import inspect
from typing import Any

from robustcheck.errors import ConfigError
from robustcheck.registry import Registry


def check_defence_class(name: str, obj: Any) -> None:
    """A registered defence is a :class:`BaseDefence` subclass implementing what it declares, or a
    factory function (checked when it is called)."""
    from robustcheck.defences.base import BaseDefence

    if not inspect.isclass(obj):
        if callable(obj):
            return
        raise ConfigError(f"defence {name!r}: expected a BaseDefence subclass or a factory, got {obj!r}")
    if not issubclass(obj, BaseDefence):
        raise ConfigError(
            f"defence {name!r}: {obj.__qualname__} must subclass robustcheck.defences.BaseDefence (or "
            f"register a factory returning one)"
        )
    if not (obj.is_detector or obj.is_purifier) and obj.predict is BaseDefence.predict and name != "none":
        raise ConfigError(
            f"defence {name!r}: {obj.__qualname__} declares neither is_detector nor is_purifier and does not "
            f"override predict(); it would be the undefended classifier"
        )
    if obj.is_detector and obj.score is BaseDefence.score:
        raise ConfigError(
            f"defence {name!r}: {obj.__qualname__} declares is_detector = True but does not "
            f"implement score(x)"
        )
    if obj.is_purifier and obj.purify is BaseDefence.purify:
        raise ConfigError(
            f"defence {name!r}: {obj.__qualname__} declares is_purifier = True but does not "
            f"implement purify(x)"
        )
    if obj.trainable and obj.fit is BaseDefence.fit:
        raise ConfigError(
            f"defence {name!r}: {obj.__qualname__} declares trainable = True but does not implement fit(ctx)"
        )


DEFENCES: Registry = Registry(
    "defence", entry_point_group="robustcheck.defences", validator=check_defence_class
)
