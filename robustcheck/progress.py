"""Progress lines for the long stages of a run (training epochs, attack batches): shown on an interactive
terminal, silent in CI (the ``CI`` environment variable), under ``-q`` and on xdist workers.

Each stage writes whole lines, never a carriage return or a cursor movement, so the lines cannot corrupt
what else is written to the terminal (pytest's own output, logs): the last step of a stage always writes
one line, the steps before it one line each at most every :data:`MIN_INTERVAL` seconds::

    robustcheck: train mnist-cnn: epoch 1/5 (12.0s, ~48s left)
    robustcheck: train mnist-cnn: epoch 5/5 (59.8s)
    robustcheck: attack pgd-linf ε=0.1: batch 4/4 (3.1s)

Where the lines go: the :class:`Writer` set with :func:`set_writer` (under pytest, the plugin sets one that
writes through pytest's terminal reporter with capture suspended, so the lines show in a normal run, not
only with ``-s``), else standard error. Outside pytest they show when standard error is a terminal.

Example:
    >>> for epoch in progress(range(3), desc="train demo", unit="epoch"):  # doctest: +SKIP
    ...     pass
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterable, Iterator
from typing import Protocol, TypeVar

T = TypeVar("T")

#: Least seconds between two lines of one stage (its last step is always written).
MIN_INTERVAL = 2.0
_ENABLED: bool | None = None


class Writer(Protocol):
    """Where progress lines go."""

    def is_terminal(self) -> bool:
        """True when a person watches the output (an interactive terminal)."""
        ...

    def write_line(self, line: str) -> None:
        """Write one whole line (no newline in ``line``)."""
        ...


class StderrWriter:
    """Lines on standard error (the default outside pytest)."""

    def is_terminal(self) -> bool:
        try:
            return sys.stderr.isatty()
        except (AttributeError, ValueError):  # replaced or closed stream
            return False

    def write_line(self, line: str) -> None:
        sys.stderr.write(line + "\n")
        sys.stderr.flush()


_WRITER: Writer = StderrWriter()


def set_enabled(flag: bool | None) -> None:
    """Force progress lines on/off (``None``: decide from the writer's terminal and the CI variable)."""
    global _ENABLED
    _ENABLED = flag


def get_forced() -> bool | None:
    """The value last given to :func:`set_enabled` (to restore it later)."""
    return _ENABLED


def set_writer(writer: Writer | None) -> Writer:
    """Send progress lines to ``writer`` (None: standard error); returns the previous writer (to restore
    it later)."""
    global _WRITER
    previous = _WRITER
    _WRITER = writer if writer is not None else StderrWriter()
    return previous


def get_writer() -> Writer:
    return _WRITER


def enabled() -> bool:
    """Whether progress lines are written now: forced by :func:`set_enabled`, else on when the writer is an
    interactive terminal and the ``CI`` environment variable is not set."""
    if _ENABLED is not None:
        return _ENABLED
    if os.environ.get("CI"):
        return False
    try:
        return bool(_WRITER.is_terminal())
    except Exception:  # a writer must never break a run
        return False


def _seconds(s: float) -> str:
    if s < 60:
        return f"{s:.1f}s"
    m, sec = divmod(round(s), 60)
    return f"{m}m{sec:02d}s" if m < 60 else f"{m // 60}h{m % 60:02d}m"


class Stage:
    """One stage of work in ``total`` steps (``unit``: epoch, batch): call :meth:`step` after each step.
    Writes ``robustcheck: <desc>: <unit> i/total (elapsed[, ~left])`` lines as described in the module
    docstring; nothing when progress is disabled (decided once, when the stage starts)."""

    def __init__(self, desc: str, total: int, unit: str = "step", *, interval: float | None = None) -> None:
        self.desc, self.total, self.unit = desc, int(total), unit
        self.interval = MIN_INTERVAL if interval is None else interval
        self.done = 0
        self.active = enabled() and self.total > 0
        self._start = self._last = time.monotonic()

    def step(self, n: int = 1) -> None:
        self.done += n
        if not self.active:
            return
        now = time.monotonic()
        last = self.done >= self.total
        if not last and now - self._last < self.interval:
            return
        self._last = now
        elapsed = now - self._start
        left = ""
        if not last and self.done > 0:
            left = f", ~{_seconds(elapsed / self.done * (self.total - self.done))} left"
        line = f"robustcheck: {self.desc}: {self.unit} {min(self.done, self.total)}/{self.total} "
        line += f"({_seconds(elapsed)}{left})"
        try:
            _WRITER.write_line(line)
        except Exception:  # a progress line is never worth a failed run
            self.active = False


def progress(it: Iterable[T], *, desc: str, unit: str = "step", total: int | None = None) -> Iterator[T]:
    """Yield the items of ``it`` (a stage of ``total`` steps, default ``len(it)``), writing progress lines
    after each item (see :class:`Stage`)."""
    if total is None:
        try:
            total = len(it)  # type: ignore[arg-type]
        except TypeError:
            total = 0  # unknown length: no lines
    stage = Stage(desc, total, unit)
    for item in it:
        yield item
        stage.step()
