"""FGM-L2 — the L2 fast gradient method (Goodfellow et al. 2015; Miyato et al. 2016).

x' = clip(x + ε · g / ‖g‖₂, 0, 1) with g = ∇ₓ L(C(x), y); targeted: x' = clip(x − ε · g_t / ‖g_t‖₂, 0, 1)
with the gradient of the loss of the target label (002 eq 2 in L2). Clipping to [0, 1] only shrinks the
perturbation, so the output stays in the L2 ε-ball.

Example:
    >>> [res] = FGSML2()(model, x, y, eps=[1.5])   # doctest: +SKIP
"""

from __future__ import annotations

from robustcheck.attacks.fgsm import FGSM
from robustcheck.attacks.registry import ATTACKS
from robustcheck.norms import Norm


@ATTACKS.register("fgsm-l2")
class FGSML2(FGSM):
    """FGSM's single step with the L2 steepest-ascent direction g / ‖g‖₂ instead of sign(g)."""

    norm = Norm.L2
    name = "fgsm-l2"
