"""DeepFool, L2 (Moosavi-Dezfooli et al. 2016, Algorithm 2), batched over the whole batch.

Per example and iteration i, with f_k = z_k − z_y and w_k = ∇ₓ f_k at the current point x_i:

    l = argmin_{k≠y} |f_k| / ‖w_k‖₂,    r_i = (|f_l| + 1e-4) / ‖w_l‖₂² · w_l,
    x_{i+1} = clip(x₀ + (1 + η) · Σ_j r_j, 0, 1),

until C(x_{i+1}) ≠ y or ``steps`` iterations; η = ``overshoot`` = 0.02 as in the original. The class
gradients come from one backward pass per class (``candidates`` classes with the highest clean logits,
all by default) for the whole batch at once — not image by image — and examples leave the batch as soon
as they are misclassified. Minimisation attack: run once, projected onto each ε of the list by
:class:`~robustcheck.attacks.base.BaseAttack`. Untargeted only (DeepFool has no targeted form).

Args:
    steps: maximum iterations (original: 50).
    overshoot: η (original: 0.02).
    candidates: number of classes considered (the true class included); None = all.

Example:
    >>> [res] = DeepFool()(model, x, y, eps=[1.0, 2.0])   # doctest: +SKIP
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from robustcheck.attacks.base import BaseAttack, check_positive
from robustcheck.attacks.registry import ATTACKS
from robustcheck.errors import ConfigError
from robustcheck.norms import Norm


@ATTACKS.register("deepfool")
class DeepFool(BaseAttack):
    norm = Norm.L2
    name = "deepfool"
    minimization = True
    supports_targeted = False

    def __init__(
        self,
        *,
        steps: int = 50,
        overshoot: float = 0.02,
        candidates: int | None = None,
        targeted: bool = False,
        seed: int = 0,
        batch_size: int = 250,
    ) -> None:
        super().__init__(targeted=targeted, seed=seed, batch_size=batch_size)
        check_positive("attack 'deepfool': steps", steps, integer=True)
        check_positive("attack 'deepfool': overshoot", overshoot, allow_zero=True)
        if candidates is not None and (
            isinstance(candidates, bool) or not isinstance(candidates, int) or candidates < 2
        ):
            raise ConfigError(
                f"attack 'deepfool': candidates must be an int >= 2 or None, got {candidates!r}"
            )
        self.steps, self.overshoot, self.candidates = steps, float(overshoot), candidates

    def run(self, model: nn.Module, x: Tensor, y: Tensor, eps: float | None, target: Tensor | None) -> Tensor:
        n = x.shape[0]
        with torch.no_grad():
            logits0 = model(x)
        k = logits0.shape[1] if self.candidates is None else min(self.candidates, logits0.shape[1])
        # classes to consider per example: the true class first, then the k-1 highest other logits
        others = logits0.scatter(1, y.view(-1, 1), -float("inf")).topk(k - 1, dim=1).indices
        classes = torch.cat([y.view(-1, 1), others], dim=1)  # (n, k)
        r_tot = torch.zeros_like(x)
        x_adv = x.clone()
        active = torch.arange(n, device=x.device)
        with torch.no_grad():
            active = active[logits0.argmax(1) == y]  # already misclassified: nothing to do
        for _ in range(self.steps):
            if active.numel() == 0:
                break
            xa = x_adv[active].clone().requires_grad_(True)
            logits = model(xa)
            cls = classes[active]
            z = logits.gather(1, cls)  # (m, k), column 0 is the true class
            grads = []
            for j in range(k):
                (g,) = torch.autograd.grad(z[:, j].sum(), xa, retain_graph=j < k - 1)
                grads.append(g.flatten(1))
            with torch.no_grad():
                still = logits.argmax(1) == y[active]
                gstack = torch.stack(grads, 1)  # (m, k, d)
                w = gstack[:, 1:] - gstack[:, :1]  # (m, k-1, d)
                f = (z[:, 1:] - z[:, :1]).detach()  # (m, k-1)
                wn = w.norm(dim=2).clamp_min(1e-8)
                dist = f.abs() / wn
                lbest = dist.argmin(1)
                idx = torch.arange(lbest.numel(), device=x.device)
                w_l, f_l, wn_l = w[idx, lbest], f[idx, lbest], wn[idx, lbest]
                r = ((f_l.abs() + 1e-4) / wn_l**2).unsqueeze(1) * w_l
                upd = active[still]
                r_tot[upd] += r[still].view(-1, *x.shape[1:])
                x_adv[upd] = (x[upd] + (1 + self.overshoot) * r_tot[upd]).clamp(0, 1)
                active = upd
        return x_adv
