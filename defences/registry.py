"""The defence registry."""

from __future__ import annotations

from robustcheck.registry import Registry

DEFENCES: Registry = Registry("defence")
