"""``none`` — the undefended classifier; the reference every defence is compared with."""

from __future__ import annotations

from robustcheck.defences.base import BaseDefence
from robustcheck.defences.registry import DEFENCES


@DEFENCES.register("none")
class NoDefence(BaseDefence):
    """Predicts C(x); neither detects nor purifies. White-box = grey-box = attacking C."""

    name = "none"
