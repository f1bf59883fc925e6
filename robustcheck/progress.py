"""Progress bars for training and long attacks: shown on an interactive terminal, silent in CI and
under -q."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from typing import TypeVar

T = TypeVar("T")
_ENABLED: bool | None = None


def set_enabled(flag: bool | None) -> None:
    """Force progress bars on/off (``None``: decide from the terminal and the CI variable)."""
    global _ENABLED
    _ENABLED = flag


def get_forced() -> bool | None:
    """The value last given to :func:`set_enabled` (to restore it later)."""
    return _ENABLED


def enabled() -> bool:
    if _ENABLED is not None:
        return _ENABLED
    return sys.stderr.isatty() and not os.environ.get("CI")


def progress(it: Iterable[T], *, desc: str, unit: str = "it") -> Iterable[T]:
    if not enabled():
        return it
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return it
    return tqdm(it, desc=desc, unit=unit, leave=False, file=sys.stderr)
