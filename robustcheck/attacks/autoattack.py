"""AutoAttack (Croce & Hein 2020): the parameter-free ensemble APGD-CE, APGD-T, FAB-T and Square.

``version="standard"`` is the release-gate setting; torchattacks' implementation runs underneath (each
attack only sees the examples the previous ones did not break). The number of classes is read from the
model's logits. Fixed-ε; untargeted only (APGD-T and FAB-T are targeted internally).

Args:
    version: ``"standard"``, ``"plus"`` or ``"rand"`` (for randomised defences; uses EOT).

Example:
    >>> [res] = AutoAttackLinf()(model, x, y, eps=[0.3])   # doctest: +SKIP
"""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import Tensor, nn

from robustcheck.attacks.base import BaseAttack
from robustcheck.attacks.registry import ATTACKS
from robustcheck.errors import ConfigError

VERSIONS = ("standard", "plus", "rand")


class _AutoAttack(BaseAttack):
    supports_targeted = False
    ta_norm: ClassVar[str] = "Linf"

    def __init__(self, *, version: str = "standard", targeted: bool = False, seed: int = 0,
                 batch_size: int = 250) -> None:
        super().__init__(targeted=targeted, seed=seed, batch_size=batch_size)
        if version not in VERSIONS:
            raise ConfigError(f"attack {self.name!r}: version {version!r} unknown; known: {', '.join(VERSIONS)}")
        self.version = version

    def run(self, model: nn.Module, x: Tensor, y: Tensor, eps: float | None, target: Tensor | None) -> Tensor:
        import torchattacks

        assert eps is not None
        if eps == 0:
            return x.clone()
        with torch.no_grad():
            n_classes = int(model(x[:1]).shape[1])
        attack = torchattacks.AutoAttack(model, norm=self.ta_norm, eps=eps, version=self.version,
                                         n_classes=n_classes, seed=self.seed)
        return attack(x, y).to(x.dtype)


@ATTACKS.register("autoattack")
class AutoAttackLinf(_AutoAttack):
    norm = "linf"
    name = "autoattack"
    ta_norm = "Linf"

