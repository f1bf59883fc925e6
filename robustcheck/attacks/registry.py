"""The attack registry."""

from __future__ import annotations

from robustcheck.registry import Registry

ATTACKS: Registry = Registry("attack", entry_point_group="robustcheck.attacks")
