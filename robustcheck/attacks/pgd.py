"""PGD — Projected Gradient Descent (Madry et al. 2018), L∞, with random start and restarts.

Each step: x ← Π_{B∞(x₀, ε) ∩ [0,1]}(x + α · sign(∇ₓ L)). Returns, per example, the best iterate over
steps and restarts (see :mod:`robustcheck.attacks.iterative`, which holds the shared loop).

Args:
    steps: iterations (default 40).
    alpha: step size; default 2.5 · ε / steps.
    random_start: start uniformly in the ε-ball (default True).
    restarts: independent random starts (default 1).

Example:
    >>> [res] = PGDLinf(steps=40)(model, x, y, eps=[0.1])   # doctest: +SKIP
"""

from __future__ import annotations

from robustcheck.attacks.iterative import IterativeAttack
from robustcheck.attacks.registry import ATTACKS
from robustcheck.norms import Norm


@ATTACKS.register("pgd-linf")
class PGDLinf(IterativeAttack):
    norm = Norm.LINF
    name = "pgd-linf"
    single_step_version = "fgsm"
    default_random_start = True
