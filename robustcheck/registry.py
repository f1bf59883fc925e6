"""A name registry with a decorator, fnmatch listing, entry-point discovery and a clear error for
unknown names."""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterator
from importlib import metadata
from typing import Any, Generic, TypeVar

from robustcheck.errors import ConfigError

#: The type of an entry: a class (``type[BaseAttack]``) or a factory function.
E = TypeVar("E", bound=Callable[..., Any])


class Registry(Generic[E]):
    """Maps names to factories (classes or functions); ``Registry[type[BaseAttack]]`` holds attack classes.

    Installed packages add entries through the entry-point group ``entry_point_group`` (e.g.
    ``robustcheck.defences``): each entry point's name is the registry name and it loads the class.
    They are discovered lazily, on the first lookup or listing.

    Example:
        >>> attacks = Registry("attack")
        >>> @attacks.register("fgsm")
        ... class FGSM: ...
        >>> attacks.get("fgsm") is FGSM
        True
    """

    def __init__(
        self,
        kind: str,
        *,
        entry_point_group: str | None = None,
        validator: Callable[[str, E], None] | None = None,
    ) -> None:
        self.kind = kind
        self.entry_point_group = entry_point_group
        self.validator = validator
        self._entries: dict[str, E] = {}
        self._origins: dict[str, str] = {}
        self._discovered = entry_point_group is None

    def register(self, name: str, *, replace: bool = False) -> Callable[[E], E]:
        """Decorator registering ``obj`` under ``name``; a clash raises unless ``replace=True``."""
        if not isinstance(name, str) or not name:
            raise ConfigError(f"{self.kind} name must be a non-empty string, got {name!r}")

        def decorator(obj: E) -> E:
            self._add(name, obj, replace=replace, origin=getattr(obj, "__module__", "?"))
            return obj

        return decorator

    def _add(self, name: str, obj: E, *, replace: bool, origin: str) -> None:
        if name in self._entries and self._entries[name] is not obj and not replace:
            raise ConfigError(
                f"{self.kind} name {name!r} is already registered to {self._entries[name]!r} "
                f"(from {self._origins.get(name, '?')}); pick another name or pass replace=True"
            )
        if self.validator is not None:
            self.validator(name, obj)
        self._entries[name] = obj
        self._origins[name] = origin

    def discover(self) -> None:
        """Load the entry points of ``entry_point_group`` once (installed third-party entries)."""
        if self._discovered:
            return
        self._discovered = True
        assert self.entry_point_group is not None
        for ep in metadata.entry_points(group=self.entry_point_group):
            dist = getattr(ep, "dist", None)
            origin = f"entry point {ep.value!r} of {getattr(dist, 'name', 'an installed package')}"
            try:
                obj = ep.load()
            except Exception as exc:
                raise ConfigError(f"{self.kind} {ep.name!r}: cannot load {origin}: {exc}") from exc
            if ep.name in self._entries and self._entries[ep.name] is obj:
                continue  # the module registered itself with the decorator on import
            self._add(ep.name, obj, replace=False, origin=origin)

    def get(self, name: str) -> E:
        self.discover()
        try:
            return self._entries[name]
        except KeyError:
            known = ", ".join(sorted(self._entries)) or "(none)"
            raise ConfigError(f"unknown {self.kind} {name!r}; known: {known}") from None

    def unregister(self, name: str) -> None:
        self._entries.pop(name, None)
        self._origins.pop(name, None)

    def list(self, pattern: str = "*") -> list[str]:
        self.discover()
        return sorted(n for n in self._entries if fnmatch.fnmatch(n, pattern))

    def __contains__(self, name: object) -> bool:
        self.discover()
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.list())

    def __len__(self) -> int:
        self.discover()
        return len(self._entries)
