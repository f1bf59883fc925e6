"""BIM in L2: iterative L2 fast gradient (Kurakin et al. 2017 with the L2 step of FGSM-L2).

x₀ = x; x_{n+1} = Π_{B₂(x, ε) ∩ [0,1]}(x_n + α · g / ‖g‖₂). PGD-L2 without the random start; best
iterate over steps (:mod:`robustcheck.attacks.iterative`). α defaults to 2.5 · ε / steps.

Example:
    >>> [res] = BIML2(steps=10)(model, x, y, eps=[1.5])   # doctest: +SKIP
"""

from __future__ import annotations

from robustcheck.attacks.iterative import IterativeAttack
from robustcheck.attacks.registry import ATTACKS
from robustcheck.norms import Norm


@ATTACKS.register("bim-l2")
class BIML2(IterativeAttack):
    norm = Norm.L2
    name = "bim-l2"
    single_step_version = "fgsm-l2"
    default_random_start = False
