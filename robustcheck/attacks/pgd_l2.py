"""PGD in L2 (Madry et al. 2018), with random start (uniform in the L2 ball) and restarts.

Each step: x ← Π_{B₂(x₀, ε) ∩ [0,1]}(x + α · g / ‖g‖₂). Best iterate over steps and restarts
(shared loop: :mod:`robustcheck.attacks.iterative`).

Args:
    steps: iterations (default 40).
    alpha: L2 step size; default 2.5 · ε / steps.
    random_start: start uniformly in the L2 ε-ball (default True).
    restarts: independent random starts (default 1).

Example:
    >>> [res] = PGDL2(steps=40)(model, x, y, eps=[1.5])   # doctest: +SKIP
"""

from __future__ import annotations

from robustcheck.attacks.iterative import IterativeAttack
from robustcheck.attacks.registry import ATTACKS
from robustcheck.norms import Norm


@ATTACKS.register("pgd-l2")
class PGDL2(IterativeAttack):
    norm = Norm.L2
    name = "pgd-l2"
    single_step_version = "fgsm-l2"
    default_random_start = True
