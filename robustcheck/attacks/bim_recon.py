"""BIM + β · reconstruction error: counter-attack B of 004 (eq 7.15), L∞.

    x_{i+1} = Π_{x, ε}[ x_i + α · sign(∇ₓ (J(C(x_i), y) − β ‖x_i − P(x_i)‖²)) ]

J is the cross-entropy of the label an unflagged input gets (C∘P for a pure purifier, C for a
detector), P the defence's purifier (identity without one). The thesis prints ``+ β``; with β ≥ 0 as
written here the attack *keeps* the reconstruction error small so that the purifier changes x′
little and reconstruction-based detectors do not flag it; β < 0 reproduces the printed sign. When the
defence is a detector, its score is also kept below the threshold through the success criterion
(best iterate), as every detector-aware attack does. Starts at x₀ (BIM).

Args:
    beta: weight of the squared reconstruction error (per example, summed over pixels).
    steps, alpha, restarts: as in :class:`~robustcheck.attacks.adaptive_base.AdaptiveAttack`.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor
from torch.nn import functional as F

from robustcheck.attacks.adaptive_base import AdaptiveAttack
from robustcheck.attacks.registry import ATTACKS
from robustcheck.attacks.targets import AdaptiveTarget
from robustcheck.errors import ConfigError


@ATTACKS.register("bim-recon")
class BIMRecon(AdaptiveAttack):
    name = "bim-recon"

    def __init__(
        self,
        *,
        beta: float = 1.0,
        steps: int = 40,
        alpha: float | None = None,
        restarts: int = 1,
        targeted: bool = False,
        seed: int = 0,
        batch_size: int = 250,
    ) -> None:
        super().__init__(
            steps=steps, alpha=alpha, restarts=restarts, targeted=targeted, seed=seed, batch_size=batch_size
        )
        if isinstance(beta, bool) or not isinstance(beta, (int, float)) or not math.isfinite(beta):
            raise ConfigError(f"attack {self.name!r}: beta must be a finite number, got {beta!r}")
        self.beta = float(beta)

    def objective(
        self, target: AdaptiveTarget, x: Tensor, y: Tensor, tgt: Tensor | None
    ) -> tuple[Tensor, Tensor, Tensor]:
        logits, score, rec = target.parts(x, purified=True)
        j = (
            -F.cross_entropy(logits, tgt, reduction="none")
            if tgt is not None
            else F.cross_entropy(logits, y, reduction="none")
        )
        assert rec is not None
        recon = (x - rec).pow(2).flatten(1).sum(1)
        return j - self.beta * recon, logits, (score if score is not None else torch.zeros_like(j))
