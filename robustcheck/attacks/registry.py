"""The attack registry."""

from __future__ import annotations

from robustcheck.registry import Registry

ATTACKS: Registry = Registry("attack")
