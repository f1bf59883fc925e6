"""VAE purification by input optimisation, seed 004 ch. 7: ``vae-purifier``.

Training (004 §7.2, eq 7.1): an unconditional VAE with the Table 6.1 architecture
(:class:`defences.cvae_detector.TableVAE`) on clean training images, loss BCE + KL. After training,
the mean μ_d and std σ_d of the clean reconstruction distances d(X) = ‖X − recon(X)‖²₂ on the
validation split are stored (buffers) for variants C–H. recon() uses the posterior mean.

Other shapes: as for ``cvae-detector`` (:mod:`defences.cvae_detector`), :meth:`VAEPurifier.build` sizes
the VAE from the data's C×H×W (``channels`` is only the channel count used before ``build``):
``architecture="auto"`` (default) is Table 6.1 for c×28×28 / c×32×32 (``"table6.1"`` insists on those),
otherwise the same layers on the input zero-padded to a multiple of 8 per side (at least 16) and cropped
back. A callable ``architecture(input_shape: tuple[int, int, int], zdim: int, cond_dim: int) -> nn.Module``
(the same signature as ``cvae-detector``'s; ``cond_dim`` is 0 here) returns the VAE:
``forward(x, cond=None, noise=None)`` → (reconstruction of x's shape in [0, 1], μ, log σ²).

Purification (eq 7.3): minimise over ε   c‖ε‖²₂ + L(X + ε)   for ``iterations`` steps, starting at
X_pur,0 = X and clipping to [0, 1] after every step, with the variants of §7.5:

- A (eq 7.4): fixed steps, plain gradient descent with rate α on L = d.
- B (eq 7.5): Adam (β₁ = 0.9, β₂ = 0.999) on L = d.
- C (eq 7.6): Adam with the per-example rate α_i = α(1 − exp(−((d − μ_d)/σ_d)²)).
- D (eq 7.7): Adam on the target-distribution loss L = |d − μ_d| / σ_d.
- E (eq 7.8): Adam on the one-sided loss L = max(d − μ_d, 0) / σ_d (clean inputs stay put).
- F (eq 7.9): E, with the loss evaluated at X_pur + γ·n, n ~ N(0, I) fresh at each step.
- G (eq 7.10): E, with the loss evaluated at t(X_pur, f, θ): a random rotation θ ∈ ±``max_rotation``
  degrees and resize f ∈ [1 − ``max_resize``, 1 + ``max_resize``] at each step.
- H: F + G.

The paper applies ∂L/∂X_noise or ∂L/∂X_trans directly to X_pur; we differentiate through the
(noise, transform) map to X_pur — identical for F (the noise is additive) and spatially aligned for G.
The constant c of eq 7.3 defaults to 0, as in the §7.5 update rules.

Randomness (F, G, H): these variants are genuinely random defences and declare ``stochastic = True``
(A–E, or F–H with nothing to randomise, are deterministic). For reproducible labels, ``predict`` uses
the draw of ``seed``: at each call a generator seeded with ``seed`` draws, per step, one noise image and
one (rotation, resize) shared by every example of the batch, so an input's purification never depends on
its batch, its position in it, or process history. White-box attacks run EOT over exactly this
randomness: inside :func:`robustcheck.attacks.gradients.fresh_randomness` (every EOT pass) the
generator is seeded from the global generator instead (seeded by the attack), so the passes sample the
distribution the seeded draw comes from, and the gradients of the loss are averaged.

Defended prediction: C(X_pur) (purifier only). White-box: the base-class target with BPDA declared
(``differentiable = False``, ``bpda_surrogate`` the identity): the forward pass is C(purify(x)) exactly
(the evaluated function), the backward pass treats the optimisation as the identity, ∂X_pur/∂X ≈ I
(Athalye et al. 2018), since the inner optimisation is not differentiable in a useful way.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from robustcheck.attacks.gradients import fresh_randomness_active
from robustcheck.defences.architectures import Shape, Unbuilt, as_shape, check_architecture, with_architecture
from robustcheck.defences.base import BaseDefence, FitContext
from robustcheck.defences.cvae_detector import (
    TableArchitecture,
    make_table_vae,
    resolve_table_architecture,
    table_vae_padding,
)
from robustcheck.defences.registry import DEFENCES
from robustcheck.defences.vae_purifiers import elbo_terms
from robustcheck.errors import ConfigError
from robustcheck.models.training import seeded, train_loop

VARIANTS = ("A", "B", "C", "D", "E", "F", "G", "H")


def random_rotate_resize(
    x: Tensor, max_rotation: float, max_resize: float, generator: torch.Generator
) -> Tensor:
    """Differentiable random rotation (±``max_rotation`` degrees) and resize (factor 1 ± ``max_resize``).

    One (rotation, resize) is drawn per call and applied to every example, so the result for an input
    does not depend on its position in the batch or on the batch size."""
    b = x.shape[0]
    theta = ((torch.rand(1, generator=generator) * 2 - 1) * math.radians(max_rotation)).expand(b)
    scale = (1 + (torch.rand(1, generator=generator) * 2 - 1) * max_resize).expand(b)
    cos, sin = torch.cos(theta) / scale, torch.sin(theta) / scale
    zeros = torch.zeros(b)
    mat = torch.stack([torch.stack([cos, -sin, zeros], 1), torch.stack([sin, cos, zeros], 1)], 1)
    grid = F.affine_grid(mat.to(x), list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, align_corners=False, padding_mode="zeros")


@DEFENCES.register("vae-purifier")
class VAEPurifier(BaseDefence):
    """``vae-purifier``: 004 ch. 7 VAE purification by optimising the input (variants A–H of §7.5)."""

    name = "vae-purifier"
    is_detector = False
    is_purifier = True
    trainable = True
    #: The inner optimisation is not differentiated: BPDA with the identity surrogate (module doc).
    differentiable = False

    err_mean: Tensor  # buffers: mean and std of d(X) on clean validation data (fit)
    err_std: Tensor

    def __init__(
        self,
        *,
        variant: str = "E",
        iterations: int = 10,
        lr: float = 0.02,
        c: float = 0.0,
        noise: float = 0.05,
        max_rotation: float = 10.0,
        max_resize: float = 0.1,
        channels: int = 1,
        zdim: int = 128,
        train_lr: float = 1e-3,
        seed: int = 0,
        architecture: str | TableArchitecture = "auto",
    ) -> None:
        super().__init__()
        check_architecture(self.name, architecture, ("table6.1",))
        if variant not in VARIANTS:
            raise ConfigError(
                f"defence {self.name!r}: variant must be one of {', '.join(VARIANTS)} (004 §7.5), "
                f"got {variant!r}"
            )
        if isinstance(iterations, bool) or not isinstance(iterations, int) or iterations < 0:
            raise ConfigError(f"defence {self.name!r}: iterations must be an int >= 0, got {iterations!r}")
        for k, v in (("lr", lr), ("train_lr", train_lr)):
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0:
                raise ConfigError(f"defence {self.name!r}: {k} must be > 0, got {v!r}")
        for k, v in (("c", c), ("noise", noise), ("max_rotation", max_rotation), ("max_resize", max_resize)):
            if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
                raise ConfigError(f"defence {self.name!r}: {k} must be >= 0, got {v!r}")
        if max_resize >= 1:
            raise ConfigError(f"defence {self.name!r}: max_resize must be < 1, got {max_resize!r}")
        self.variant, self.iterations, self.lr, self.c = variant, iterations, float(lr), float(c)
        self.noise, self.max_rotation, self.max_resize = float(noise), float(max_rotation), float(max_resize)
        self.channels, self.zdim, self.train_lr, self.seed = channels, zdim, float(train_lr), int(seed)
        self.architecture = architecture
        #: the shape the VAE was built for (a callable waits for build()) and the network built
        self.input_shape: Shape | None = None
        self.built_architecture: str | None = None
        self.vae: nn.Module = Unbuilt(self.name)
        if isinstance(architecture, str):  # Table 6.1 for channels×28×28 until build() says otherwise
            self._install((channels, 28, 28), "table6.1")
        self.register_buffer("err_mean", torch.tensor(0.0))
        self.register_buffer("err_std", torch.tensor(1.0))

    def _install(self, shape: Shape, name: str) -> None:
        self.vae = make_table_vae(self.name, self.architecture, shape, self.zdim)
        self.input_shape, self.built_architecture, self.channels = shape, name, shape[0]

    def build(self, input_shape: tuple[int, ...], num_classes: int) -> None:
        """(Re)build the VAE for ``input_shape`` unless it was built for it already (Table 6.1 is the same
        network for 28×28 and 32×32)."""
        shape = as_shape(self.name, input_shape)
        name = resolve_table_architecture(self.name, self.architecture, shape)
        same = shape == self.input_shape or (
            not callable(self.architecture)
            and self.input_shape is not None
            and shape[0] == self.input_shape[0]
            and table_vae_padding(shape) == table_vae_padding(self.input_shape)
        )
        if same and name == self.built_architecture:
            self.input_shape = shape
            return
        self._install(shape, name)

    def config(self) -> dict[str, Any]:
        cfg: dict[str, Any] = {
            "variant": self.variant,
            "iterations": self.iterations,
            "lr": self.lr,
            "c": self.c,
            "noise": self.noise,
            "max_rotation": self.max_rotation,
            "max_resize": self.max_resize,
            "channels": self.channels,
            "zdim": self.zdim,
            "train_lr": self.train_lr,
            "seed": self.seed,
        }
        return with_architecture(
            cfg, self.built_architecture, self.architecture, "table6.1", self.input_shape
        )

    # F/G/H draw noise and/or transforms at every step (module doc). A read-only property where the
    # base class declares a class flag: deliberate, so the override check is silenced.
    @property
    def stochastic(self) -> bool:  # type: ignore[override]
        random_noise = self.variant in ("F", "H") and self.noise > 0
        random_transform = self.variant in ("G", "H") and (self.max_rotation > 0 or self.max_resize > 0)
        return self.iterations > 0 and (random_noise or random_transform)

    def generator(self) -> torch.Generator:
        """The draw of ``seed`` (reproducible predictions), or a fresh one inside an EOT pass."""
        if fresh_randomness_active():
            return torch.Generator().manual_seed(int(torch.randint(0, 2**62, (1,)).item()))
        return torch.Generator().manual_seed(self.seed)

    # --- the VAE ------------------------------------------------------------------------------------
    def recon(self, x: Tensor) -> Tensor:
        """recon(X) through the posterior mean."""
        return self.vae(x)[0]

    def distance(self, x: Tensor) -> Tensor:
        """d(X) = ‖X − recon(X)‖²₂ per example."""
        return (x - self.recon(x)).pow(2).flatten(1).sum(1)

    def fit(self, ctx: FitContext) -> None:
        self.build(tuple(ctx.train.x.shape[1:]), ctx.num_classes)
        g = seeded(ctx.seed)  # shuffles the batches and draws the VAE's noise

        def elbo(batch: tuple[Tensor, ...]) -> Tensor:
            (x,) = batch
            noise = torch.randn(x.shape[0], self.zdim, generator=g).to(ctx.device)
            r, mu, logvar = self.vae(x, None, noise)
            bce, kl = elbo_terms(x, r, mu, logvar)  # eq 7.1
            return (bce + kl).mean()

        train_loop(
            self,
            elbo,
            (ctx.train.x,),
            epochs=ctx.epochs,
            batch_size=ctx.batch_size,
            lr=self.train_lr,
            seed=g,
            desc=self.name,
            params=self.vae.parameters,
            device=ctx.device,
        )
        with torch.no_grad():
            d = torch.cat(
                [self.distance(ctx.val.x[i : i + 500].to(ctx.device)) for i in range(0, len(ctx.val), 500)]
            )
        self.err_mean.fill_(d.mean().item())
        self.err_std.fill_(max(d.std().item(), 1e-8))

    # --- purification -------------------------------------------------------------------------------
    def objective(self, x_pur: Tensor, x0: Tensor, generator: torch.Generator) -> Tensor:
        """Per-example objective of one step: c‖X_pur − X‖² + L (variant's loss at the variant's point)."""
        v = self.variant
        x_eval = x_pur
        if v in ("F", "H"):
            # one noise image per step, shared by the batch (batch-invariant purification)
            x_eval = x_eval + self.noise * torch.randn(x_pur.shape[1:], generator=generator).to(x_pur)
        if v in ("G", "H"):
            x_eval = random_rotate_resize(x_eval, self.max_rotation, self.max_resize, generator)
        d = self.distance(x_eval)
        mu, sd = self.err_mean, self.err_std
        if v == "D":
            loss = (d - mu).abs() / sd
        elif v in ("E", "F", "G", "H"):
            loss = (d - mu).clamp_min(0) / sd
        else:
            loss = d
        return loss + self.c * (x_pur - x0).pow(2).flatten(1).sum(1)

    def purify(self, x: Tensor) -> Tensor:
        """Eq 7.3 by ``iterations`` steps of the selected §7.5 variant; returns a detached X_pur in [0, 1]."""
        with torch.inference_mode(False), torch.enable_grad():
            x0 = x.detach().clone()
            x_pur = x0.clone()
            g = self.generator()
            m, s = torch.zeros_like(x0), torch.zeros_like(x0)
            b1, b2 = 0.9, 0.999
            shape = (-1,) + (1,) * (x0.dim() - 1)
            for i in range(1, self.iterations + 1):
                x_pur.requires_grad_(True)
                per_example = self.objective(x_pur, x0, g)
                (grad,) = torch.autograd.grad(per_example.sum(), x_pur)
                with torch.no_grad():
                    if self.variant == "A":
                        step = self.lr * grad
                    else:
                        m.mul_(b1).add_(grad, alpha=1 - b1)
                        s.mul_(b2).addcmul_(grad, grad, value=1 - b2)
                        step = self.lr * (m / (1 - b1**i)) / ((s / (1 - b2**i)).sqrt() + 1e-8)
                        if self.variant == "C":
                            z = (self.distance(x_pur) - self.err_mean) / self.err_std
                            step = step * (1 - torch.exp(-z.pow(2))).view(shape)
                    x_pur = (x_pur - step).clamp(0, 1).detach()
        return x_pur
