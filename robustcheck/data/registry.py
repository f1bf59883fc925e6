"""The dataset registry: ``@register_dataset(name)`` and the ``robustcheck.datasets`` entry-point group."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

from robustcheck.errors import ConfigError
from robustcheck.registry import Registry


def _check_loader(name: str, obj: Callable[..., Any]) -> None:
    if not callable(obj):
        raise ConfigError(
            f"dataset {name!r}: a registered dataset must be a callable returning the data "
            f"(tensors, a mapping of splits, a torch Dataset or DatasetSplits), got {obj!r}"
        )


#: name → loader. A loader is called with the keyword arguments it declares among ``seed``, ``root`` and
#: ``download`` and returns any form ``Suite(dataset=...)`` accepts (see :mod:`robustcheck.data`).
DATASETS: Registry[Callable[..., Any]] = Registry(
    "dataset", entry_point_group="robustcheck.datasets", validator=_check_loader
)


def register_dataset(
    name: str, *, replace: bool = False
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator registering a dataset loader under ``name``.

    Example::

        @robustcheck.register_dataset("my-scans")
        def my_scans(seed: int = 0):
            x, y = read_my_scans()          # float in [0, 1], N×C×H×W; int labels
            return {"train": (x[:800], y[:800]), "test": (x[800:], y[800:])}  # val is split off train

    Installed packages register through the entry-point group ``robustcheck.datasets``.
    """
    return DATASETS.register(name, replace=replace)


def call_loader(loader: Callable[..., Any], what: str, **available: Any) -> Any:
    """Call ``loader`` with the keyword arguments among ``available`` that its signature accepts."""
    params: Mapping[str, inspect.Parameter]
    try:
        params = inspect.signature(loader).parameters
    except (TypeError, ValueError):
        params = {}
    takes_all = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    kwargs = {k: v for k, v in available.items() if takes_all or k in params}
    required = [
        p.name
        for p in params.values()
        if p.default is inspect.Parameter.empty
        and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
        and p.name not in kwargs
    ]
    if required:
        raise ConfigError(
            f"{what}: the loader requires argument(s) {', '.join(required)}; a dataset loader is "
            f"called with no arguments, or with those it declares among "
            f"{', '.join(sorted(available))}."
        )
    return loader(**kwargs)
