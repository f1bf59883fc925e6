"""Autoencoder input purifiers of seed 003 (plain, denoising, contractive): ``ae``, ``dae``, ``cae``.

The defended prediction is C(P(x)) with P the autoencoder (003 §4); the defences are purifiers only
(no detection). The VAE members of the family live in :mod:`defences.vae_purifiers` and share the
architecture, the noise injection and the training loop defined here.

Architecture (003 §5): encoder and decoder with two convolutional layers of 32 channels, 3×3
filters, ReLU, latent size 128. Here: encoder conv 1→32 and 32→32 (3×3, stride 2) + ReLU, flatten,
linear → 128; decoder linear 128 → 32·7·7 + ReLU, transposed conv 32→32 and 32→1 (3×3, stride 2) with
a sigmoid output (the paper names no output activation; a sigmoid keeps P(x) in [0, 1] and makes the
binary cross-entropy reconstruction loss of the VAE ELBO well defined, so all members use it).

Other shapes (:mod:`robustcheck.defences.architectures`): ``architecture="auto"`` (default) keeps the 003 §5
networks above for 1×28×28 and otherwise builds the generic convolutional encoder (conv 3×3 stride 2
stages down to at most 4×4, linear → the code) and decoder (linear, mirrored transposed convs, crop to
H×W, sigmoid). ``"mnist"`` insists on the 003 §5 networks (a ConfigError on other shapes). A callable
``architecture(input_shape: tuple[int, int, int], code_size: int, latent: int) -> (encoder, decoder)``
returns both modules: the encoder maps N×C×H×W to N×``code_size`` (the code h(x), 128, for the AEs; [μ,
log σ²], 2·128, for the VAEs), the decoder maps N×``latent`` (128) to N×C×H×W with values in [0, 1]
(the loss is a binary cross-entropy).

Training noise (003 §4.1, §5): each training input is corrupted as x̃ = clip(x + stp·n, 0, 1),
n ~ N(0, I), with the stochastic parameter ``stp`` (the paper's range is 0.1–0.4). A *denoising*
model reconstructs the clean x from x̃; a plain model reconstructs x̃ itself (noise as data
augmentation), which is how the paper can vary stp for the non-denoising AE/VAE (Figs 1–2).

Contractive penalty (003 §2, Rifai et al.): λ·‖∂h/∂x‖²_F, the squared Frobenius norm of the encoder
Jacobian, averaged over the batch. :func:`contractive_penalty` computes it exactly with one batched
vector–Jacobian product over the identity basis of the latent space (``is_grads_batched``: 128
backward passes per example, measured ~30 s per batch of 128 on one CPU core with the double backward
of training), or unbiasedly with k random Gaussian projections (Hutchinson: E‖Jᵀv‖² = ‖J‖²_F for
v ~ N(0, I); k backward passes). Training uses the estimate with ``projections=4`` by default (the
gradient of an unbiased estimate is an unbiased estimate of the gradient); ``projections=None``
trains on the exact value.

Threat models: grey-box (x′ crafted on C) and white-box (x′ crafted on C∘P, the default
``attack_model``).

Example:
    >>> d = DEFENCES.get("dae")(stp=0.3).bind(classifier)   # doctest: +SKIP
    >>> d.fit(ctx); d.predict(x_adv)                        # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from robustcheck.defences.architectures import (
    Shape,
    Unbuilt,
    architecture_id,
    as_shape,
    call_architecture,
    check_architecture,
    fmt_shape,
    generic_decoder,
    generic_encoder,
    shape_mismatch,
)
from robustcheck.defences.base import BaseDefence, FitContext, gaussian_corruption
from robustcheck.defences.registry import DEFENCES
from robustcheck.errors import ConfigError
from robustcheck.models.training import seeded, train_loop

LATENT = 128
MNIST_SHAPE: Shape = (1, 28, 28)


def conv_encoder(out_features: int = LATENT) -> nn.Sequential:
    """003 §5 encoder: two 3×3 conv layers of 32 channels + ReLU, then a linear map to the latent."""
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, stride=2, padding=1),  # 14×14
        nn.ReLU(),
        nn.Conv2d(32, 32, 3, stride=2, padding=1),  # 7×7
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(32 * 7 * 7, out_features),
    )


def conv_decoder(latent: int = LATENT) -> nn.Sequential:
    """003 §5 decoder: linear to 32×7×7, two 3×3 transposed conv layers (32 channels, then 1), sigmoid."""
    return nn.Sequential(
        nn.Linear(latent, 32 * 7 * 7),
        nn.ReLU(),
        nn.Unflatten(1, (32, 7, 7)),
        nn.ConvTranspose2d(32, 32, 3, stride=2, padding=1, output_padding=1),  # 14×14
        nn.ReLU(),
        nn.ConvTranspose2d(32, 1, 3, stride=2, padding=1, output_padding=1),  # 28×28
        nn.Sigmoid(),
    )


def contractive_penalty(
    fn: Callable[[Tensor], Tensor],
    x: Tensor,
    projections: int | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Mean over the batch of ‖∂fn(x)/∂x‖²_F (per example Jacobian of the latent w.r.t. the input).

    Args:
        fn: maps a batch (B, ...) to latents (B, k); must act on examples independently.
        x: the batch.
        projections: None for the exact value (one batched VJP per latent unit, vectorised), or the
            number k of Gaussian projections of the unbiased Hutchinson estimate.
        generator: random source of the projections.

    Returns:
        A scalar with a graph (differentiable w.r.t. the parameters of ``fn``, for training).
    """
    x = x if x.requires_grad else x.detach().requires_grad_(True)
    h = fn(x)
    b, k = h.shape
    if projections is None:
        basis = torch.eye(k, device=h.device, dtype=h.dtype).unsqueeze(1).expand(k, b, k)
        scale = 1.0
    else:
        basis = torch.randn(projections, b, k, generator=generator, dtype=h.dtype).to(h.device)
        scale = 1.0 / projections
    (jt,) = torch.autograd.grad(h, x, grad_outputs=basis, is_grads_batched=True, create_graph=True)
    return jt.pow(2).sum() * scale / b


def bce_per_example(recon: Tensor, target: Tensor) -> Tensor:
    """Binary cross-entropy summed over pixels, per example (the ELBO reconstruction term, 004 eq 7.1)."""
    return F.binary_cross_entropy(recon, target, reduction="none").flatten(1).sum(1)


class GenerativePurifier(BaseDefence):
    """Base of the 003 family: noise injection, optional contractive penalty, seeded training loop.

    Networks: ``encoder_attr`` names the encoder (output ``code_factor`` × :data:`LATENT` features) and
    ``decoder`` maps a latent of :data:`LATENT` to an image; :meth:`build` sizes both from the data."""

    is_detector = False
    is_purifier = True
    trainable = True
    denoising: ClassVar[bool] = False
    default_stp: ClassVar[float] = 0.3
    default_contractive: ClassVar[float] = 0.0
    encoder_attr: ClassVar[str] = "encoder"
    code_factor: ClassVar[int] = 1

    def __init__(
        self,
        *,
        stp: float | None = None,
        contractive: float | None = None,
        projections: int | None = 4,
        lr: float = 1e-3,
        architecture: str | Callable[[Shape, int, int], tuple[nn.Module, nn.Module]] = "auto",
    ) -> None:
        super().__init__()
        check_architecture(self.name, architecture, ("mnist",))
        stp = self.default_stp if stp is None else stp
        contractive = self.default_contractive if contractive is None else contractive
        if isinstance(stp, bool) or not isinstance(stp, (int, float)) or not 0.0 <= stp <= 1.0:
            raise ConfigError(
                f"defence {self.name!r}: stp (training noise std) must be in [0, 1] "
                f"(003 uses 0.1–0.4), got {stp!r}"
            )
        if isinstance(contractive, bool) or not isinstance(contractive, (int, float)) or contractive < 0:
            raise ConfigError(
                f"defence {self.name!r}: contractive (penalty weight) must be >= 0, got {contractive!r}"
            )
        if projections is not None and (not isinstance(projections, int) or projections <= 0):
            raise ConfigError(
                f"defence {self.name!r}: projections must be a positive int or None (exact), "
                f"got {projections!r}"
            )
        if not (isinstance(lr, (int, float)) and lr > 0):
            raise ConfigError(f"defence {self.name!r}: lr must be > 0, got {lr!r}")
        self.stp, self.contractive, self.projections, self.lr = (
            float(stp),
            float(contractive),
            projections,
            float(lr),
        )

        self.architecture = architecture
        #: the shape and network built (None: a callable architecture not called yet)
        self.input_shape: Shape | None = None
        self.built_architecture: str | None = None
        setattr(self, self.encoder_attr, Unbuilt(self.name))
        self.decoder: nn.Module = Unbuilt(self.name)
        if isinstance(architecture, str):  # "auto" starts with the 003 §5 networks (1×28×28)
            self._install(MNIST_SHAPE, "mnist")

    def _install(self, shape: Shape, name: str) -> None:
        code = self.code_factor * LATENT
        if callable(self.architecture):
            encoder, decoder = call_architecture(self.name, self.architecture, shape, code, LATENT, count=2)
        elif name == "mnist":
            encoder, decoder = conv_encoder(code), conv_decoder(LATENT)
        else:
            encoder, decoder = generic_encoder(shape, code), generic_decoder(LATENT, shape, "sigmoid")
        setattr(self, self.encoder_attr, encoder)
        self.decoder = decoder
        self.input_shape, self.built_architecture = shape, name

    def resolve(self, shape: Shape) -> str:
        """The network ``architecture`` gives for ``shape``: ``"mnist"``, ``"generic"`` or a callable's id."""
        if callable(self.architecture):
            return architecture_id(self.architecture)
        if self.architecture == "mnist" and shape != MNIST_SHAPE:
            raise shape_mismatch(self.name, "mnist", f"{fmt_shape(MNIST_SHAPE)} (003 §5)", shape)
        return "mnist" if shape == MNIST_SHAPE else "generic"

    def build(self, input_shape: tuple[int, ...], num_classes: int) -> None:
        """(Re)build encoder and decoder for ``input_shape`` unless they were built for it already."""
        shape = as_shape(self.name, input_shape)
        name = self.resolve(shape)
        if shape != self.input_shape or name != self.built_architecture:
            self._install(shape, name)

    def config(self) -> dict[str, Any]:
        cfg: dict[str, Any] = {
            "stp": self.stp,
            "contractive": self.contractive,
            "projections": self.projections,
            "lr": self.lr,
            "denoising": self.denoising,
        }
        built = self.built_architecture or architecture_id(self.architecture)
        if built != "mnist":  # the default keeps its cache key; other networks depend on the shape
            cfg["architecture"] = built
            cfg["input_shape"] = list(self.input_shape) if self.input_shape is not None else None
        return cfg

    # --- to implement -------------------------------------------------------------------------
    def code(self, x: Tensor) -> Tensor:
        """The deterministic latent h(x) the contractive penalty acts on (the mean for a VAE)."""
        raise NotImplementedError

    def reconstruction_loss(
        self, x_in: Tensor, target: Tensor, generator: torch.Generator | None = None
    ) -> Tensor:
        """Per-batch mean of the model's loss on input ``x_in`` reconstructing ``target``."""
        raise NotImplementedError

    # --- training ----------------------------------------------------------------------------
    def corrupt(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """x̃ = clip(x + stp·n, 0, 1), n ~ N(0, I) (003 §4.1)."""
        return gaussian_corruption(x, self.stp, generator)

    def training_loss(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        x_in = self.corrupt(x, generator)
        target = x if self.denoising else x_in
        loss = self.reconstruction_loss(x_in, target, generator)
        if self.contractive > 0:
            loss = loss + self.contractive * contractive_penalty(self.code, x_in, self.projections, generator)
        return loss

    def fit(self, ctx: FitContext) -> None:
        self.build(tuple(ctx.train.x.shape[1:]), ctx.num_classes)
        g = seeded(ctx.seed)  # shuffles the batches and draws the corruption and the VAE's noise
        train_loop(
            self,
            lambda batch: self.training_loss(batch[0], g),
            (ctx.train.x,),
            epochs=ctx.epochs,
            batch_size=ctx.batch_size,
            lr=self.lr,
            seed=g,
            desc=self.name,
            params=lambda: [p for p in self.parameters() if p.requires_grad],
            device=ctx.device,
        )


class _AE(GenerativePurifier):
    """Deterministic autoencoder P(x) = dec(enc(x)), trained with per-pixel BCE summed per image."""

    encoder: nn.Module

    def code(self, x: Tensor) -> Tensor:
        return self.encoder(x)

    def reconstruction_loss(
        self, x_in: Tensor, target: Tensor, generator: torch.Generator | None = None
    ) -> Tensor:
        return bce_per_example(self.decoder(self.encoder(x_in)), target).mean()

    def purify(self, x: Tensor) -> Tensor:
        return self.decoder(self.encoder(x))


@DEFENCES.register("ae")
class AE(_AE):
    """``ae``: plain autoencoder purifier (003), reconstructing its noisy training input."""

    name = "ae"


@DEFENCES.register("dae")
class DAE(_AE):
    """``dae``: denoising autoencoder purifier (003 §2): reconstructs the clean x from x̃."""

    name = "dae"
    denoising = True


@DEFENCES.register("cae")
class CAE(_AE):
    """``cae``: contractive autoencoder purifier (003 §2): + λ‖∂h/∂x‖²_F; stp 0.1 as in 003 Fig 4."""

    name = "cae"
    default_stp = 0.1
    default_contractive = 0.01
