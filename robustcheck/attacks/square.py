"""Square Attack (Andriushchenko et al. 2020): black-box, score-based, random square-shaped updates.

Only the model's scores are used (no gradient), so it is the release gate's check that a defence is
not merely masking gradients. torchattacks' implementation runs underneath (margin loss on logits,
``p_init`` schedule, restarts); this adapter maps the suite's ε, seed and budget onto it. Fixed-ε.
Untargeted only.

Args:
    steps: queries per example (torchattacks ``n_queries``; capped by ``Scale.attack_steps``).
    restarts: independent restarts (``n_restarts``).
    p_init: initial fraction of pixels changed per query.

Example:
    >>> [res] = SquareLinf(steps=1000)(model, x, y, eps=[0.3])   # doctest: +SKIP
"""

from __future__ import annotations

from typing import ClassVar

from torch import Tensor, nn

from robustcheck.attacks.base import BaseAttack, check_positive
from robustcheck.attacks.registry import ATTACKS
from robustcheck.errors import ConfigError


class _Square(BaseAttack):
    supports_targeted = False
    ta_norm: ClassVar[str] = "Linf"

    def __init__(
        self,
        *,
        steps: int = 5000,
        restarts: int = 1,
        p_init: float = 0.8,
        targeted: bool = False,
        seed: int = 0,
        batch_size: int = 250,
    ) -> None:
        super().__init__(targeted=targeted, seed=seed, batch_size=batch_size)
        check_positive(f"attack {self.name!r}: steps", steps, integer=True)
        check_positive(f"attack {self.name!r}: restarts", restarts, integer=True)
        if isinstance(p_init, bool) or not isinstance(p_init, (int, float)) or not 0 < p_init <= 1:
            raise ConfigError(f"attack {self.name!r}: p_init must be in (0, 1], got {p_init!r}")
        self.steps, self.restarts, self.p_init = steps, restarts, float(p_init)

    def run(self, model: nn.Module, x: Tensor, y: Tensor, eps: float | None, target: Tensor | None) -> Tensor:
        import torchattacks

        assert eps is not None
        if eps == 0:
            return x.clone()
        attack = torchattacks.Square(model, norm=self.ta_norm, eps=eps, n_queries=self.steps,
                                     n_restarts=self.restarts, p_init=self.p_init, loss="margin", seed=self.seed)
        return attack(x, y).to(x.dtype)


@ATTACKS.register("square")
class SquareLinf(_Square):
    norm = "linf"
    name = "square"
    ta_norm = "Linf"


@ATTACKS.register("square-l2")
class SquareL2(_Square):
    norm = "l2"
    name = "square-l2"
    ta_norm = "L2"
