"""BIM — Basic Iterative Method / iterative FGSM (Kurakin et al. 2017; 004 eq 1.4), L∞.

x₀ = x; x_{n+1} = Clip_{x,ε}(x_n + α · sign(∇ₓ L(x_n, y))). Same loop as PGD without the random start
(``random_start=True`` turns it into PGD); best iterate over steps and restarts
(:mod:`robustcheck.attacks.iterative`). 004 picks n = ⌊2ε/α + 2⌋ for a given α; here ``steps`` is the
parameter (so ``Scale.attack_steps`` can cap it) and α defaults to 2.5 · ε / steps.

Example:
    >>> [res] = BIMLinf(steps=10)(model, x, y, eps=[0.1])   # doctest: +SKIP
"""

from __future__ import annotations

from robustcheck.attacks.iterative import IterativeAttack
from robustcheck.attacks.registry import ATTACKS
from robustcheck.norms import Norm


@ATTACKS.register("bim-linf")
class BIMLinf(IterativeAttack):
    norm = Norm.LINF
    name = "bim-linf"
    single_step_version = "fgsm"
    default_random_start = False
