"""Taps: the outputs of named submodules of a network during a forward pass, by forward hooks.

A layer is named as in ``model.named_modules()`` (for ``nn.Sequential`` the index, e.g. ``"4"``). The
hooks live only while a tap is open, so a tapped network is left exactly as it was.

Example:
    >>> net = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    >>> logits, (hidden,) = forward_with_taps(net, torch.zeros(5, 4), ["1"])
    >>> tuple(hidden.shape)
    (5, 3)
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from typing import Any

import torch
from torch import nn

from robustcheck.errors import ConfigError

__all__ = ["check_layers", "forward_with_taps", "layer_names", "tapped"]


def layer_names(model: nn.Module) -> list[str]:
    """The names a layer of ``model`` can be tapped by, in ``named_modules()`` order."""
    return [n for n, _ in model.named_modules() if n]


def check_layers(model: nn.Module, layers: Sequence[str], what: str) -> None:
    """One :class:`ConfigError` when a name of ``layers`` is not a submodule of ``model`` (``what`` names
    the network in the message, e.g. ``"the loss network"``)."""
    names = layer_names(model)
    missing = [layer for layer in layers if layer not in names]
    if missing:
        raise ConfigError(
            f"{what} has no layer(s) {', '.join(map(repr, missing))}: not a submodule name "
            f"(named_modules()); known: {', '.join(names)}"
        )


def _record(out: dict[str, Any], name: str, module: nn.Module, args: Any, output: Any) -> None:
    out[name] = output


@contextmanager
def tapped(model: nn.Module, layers: Sequence[str]) -> Iterator[dict[str, Any]]:
    """While the block runs, the dict it yields holds the latest output of each of ``layers`` (names
    from ``model.named_modules()``); the hooks are removed on leaving it, whatever happens."""
    out: dict[str, Any] = {}
    handles = []
    try:
        for name in layers:
            handles.append(model.get_submodule(name).register_forward_hook(partial(_record, out, name)))
        yield out
    finally:
        for h in handles:
            h.remove()


def forward_with_taps(model: nn.Module, x: torch.Tensor, layers: Sequence[str]) -> tuple[Any, list[Any]]:
    """``(model(x), [output of each of layers])`` of one forward pass, the outputs in the order of
    ``layers`` (gradients flow through them as through ``model(x)``)."""
    with tapped(model, layers) as out:
        y = model(x)
    silent = [n for n in layers if n not in out]
    if silent:
        raise ConfigError(
            f"layer(s) {', '.join(map(repr, silent))} of {type(model).__name__} did not run in its forward "
            f"pass; tap a layer that the forward pass uses"
        )
    return y, [out[n] for n in layers]
