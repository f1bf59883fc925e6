"""``magnet``: a MagNet-style baseline (Meng & Chen 2017, cited by 001 as the MSE-autoencoder defence).

- Detector: reconstruction error S(x) = mean |x − AE(x)|^p over pixels (p = ``norm``, 1 or 2); the
  threshold is set on clean validation data at the suite's FPR like every detector here.
- Reformer: every input is replaced by AE(x) before classification, flagged or not: the defended label
  is C(AE(x)) for all inputs; flagged inputs additionally count as defended through ``defended_rate``.
- Autoencoder: by default the appendix A.1 autoencoder of ``ae-mse`` (the MSE autoencoder), trained with
  MSE on inputs with Gaussian noise (std ``noise``, 0.1 in MagNet) and L2 weight decay ``weight_decay``
  (1e-9 in MagNet), Adam, lr 1e-3. ``architecture="magnet"`` uses MagNet's own MNIST detector/reformer
  (conv 3×3×3 sigmoid, avg-pool 2, conv 3×3×3 sigmoid ×2, upsample 2, conv 3×3×3 sigmoid, conv 3×3×1
  sigmoid); measured: after 10 epochs on the 3,500 embedded digits it had not left the mean-image plateau
  (defended clean accuracy 0.113, detection AUC 0.22–0.35), so it is not the default at CPU scale.

Other shapes (:mod:`robustcheck.defences.architectures`): ``architecture="auto"`` (default) is ``"a1"`` on
1×28×28, ``"a3"`` (A.3's CIFAR conv autoencoder, latent 40) on 3×32×32 and otherwise the generic convolutional
autoencoder (linear output, latent 10, as A.1). A callable ``architecture(input_shape: tuple[int, int, int])
-> nn.Module`` returns the autoencoder; it is called by :meth:`build` and again in :meth:`fit`, under the seed
of the fit, for a freshly initialised one.

This differs from ``ae-mse`` in the score (pixel-space reconstruction error, not the KL of eq 6) and in
reforming every input.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

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
    generic_autoencoder,
    shape_mismatch,
)
from robustcheck.defences.base import BaseDefence, FitContext
from robustcheck.defences.kl_autoencoder import cifar10_autoencoder, mnist_autoencoder
from robustcheck.defences.registry import DEFENCES
from robustcheck.errors import ConfigError
from robustcheck.models.training import seeded, train_loop


def magnet_autoencoder() -> nn.Module:
    """MagNet's MNIST autoencoder (detector I / reformer)."""
    return nn.Sequential(
        nn.Conv2d(1, 3, 3, padding=1),
        nn.Sigmoid(),
        nn.AvgPool2d(2),
        nn.Conv2d(3, 3, 3, padding=1),
        nn.Sigmoid(),
        nn.Conv2d(3, 3, 3, padding=1),
        nn.Sigmoid(),
        nn.Upsample(scale_factor=2),
        nn.Conv2d(3, 3, 3, padding=1),
        nn.Sigmoid(),
        nn.Conv2d(3, 1, 3, padding=1),
        nn.Sigmoid(),
    )


#: name → (factory, the input shape it takes)
MAGNET_ARCHITECTURES: dict[str, tuple[Callable[[], nn.Module], Shape]] = {
    "a1": (mnist_autoencoder, (1, 28, 28)),
    "a3": (cifar10_autoencoder, (3, 32, 32)),
    "magnet": (magnet_autoencoder, (1, 28, 28)),
}


@DEFENCES.register("magnet")
class MagNet(BaseDefence):
    """Reconstruction-error detector + reformer.

    Args:
        architecture: ``"auto"`` (default: ``"a1"`` on 1×28×28, ``"a3"`` on 3×32×32, the generic conv AE
            otherwise), ``"a1"`` (the A.1 autoencoder of ``ae-mse``), ``"a3"`` (A.3's CIFAR conv AE),
            ``"magnet"`` (MagNet's MNIST AE) or a callable
            ``architecture(input_shape: tuple[int, int, int]) -> nn.Module`` returning the autoencoder.
        norm: 1 or 2, the power of the per-pixel reconstruction error.
        noise: std of the Gaussian noise added to training inputs.
        weight_decay: L2 penalty of Adam.
        lr: Adam learning rate.
    """

    name = "magnet"
    is_detector = True
    is_purifier = True
    trainable = True
    purify_range = None  # the default "a1" reformer has a linear output (module doc)
    reforms_all = True  # the defended label is C(AE(x)) for every input, flagged or not

    def __init__(
        self,
        *,
        architecture: str | Callable[[Shape], nn.Module] = "auto",
        norm: int = 2,
        noise: float = 0.1,
        weight_decay: float = 1e-9,
        lr: float = 1e-3,
    ) -> None:
        super().__init__()
        check_architecture(self.name, architecture, tuple(MAGNET_ARCHITECTURES))
        if norm not in (1, 2) or isinstance(norm, bool):
            raise ConfigError(f"defence {self.name!r}: norm must be 1 or 2, got {norm!r}")
        for key, v in (("noise", noise), ("weight_decay", weight_decay)):
            if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
                raise ConfigError(f"defence {self.name!r}: {key} must be a number >= 0, got {v!r}")
        if not (isinstance(lr, (int, float)) and lr > 0):
            raise ConfigError(f"defence {self.name!r}: lr must be > 0, got {lr!r}")
        self.architecture, self.norm = architecture, norm
        self.noise, self.weight_decay, self.lr = float(noise), float(weight_decay), float(lr)
        #: the shape and network the autoencoder was built for (None: a callable not called yet)
        self.input_shape: Shape | None = None
        self.built_architecture: str | None = None
        self.ae: nn.Module = Unbuilt(self.name)
        if isinstance(architecture, str):  # "auto" starts as A.1 (the default MNIST suite's network)
            self.built_architecture = "a1" if architecture == "auto" else architecture
            self.input_shape = MAGNET_ARCHITECTURES[self.built_architecture][1]
            self.ae = self.new_autoencoder()

    def resolve(self, shape: Shape) -> str:
        """The network ``architecture`` gives for ``shape``: a name, ``"generic"``, or a callable's id."""
        if callable(self.architecture):
            return architecture_id(self.architecture)
        if self.architecture == "auto":
            return next((n for n in ("a1", "a3") if MAGNET_ARCHITECTURES[n][1] == shape), "generic")
        takes = MAGNET_ARCHITECTURES[self.architecture][1]
        if shape != takes:
            raise shape_mismatch(self.name, self.architecture, fmt_shape(takes), shape)
        return self.architecture

    def new_autoencoder(self) -> nn.Module:
        """A freshly initialised autoencoder of the built architecture and shape."""
        assert self.input_shape is not None and self.built_architecture is not None
        if callable(self.architecture):
            return call_architecture(self.name, self.architecture, self.input_shape)
        if self.built_architecture == "generic":
            return generic_autoencoder(self.input_shape, 10)
        return MAGNET_ARCHITECTURES[self.built_architecture][0]()

    def build(self, input_shape: tuple[int, ...], num_classes: int) -> None:
        """(Re)build the autoencoder for ``input_shape`` unless it was built for it already."""
        shape = as_shape(self.name, input_shape)
        name = self.resolve(shape)
        if shape == self.input_shape and name == self.built_architecture:
            return
        self.input_shape, self.built_architecture = shape, name
        self.ae = self.new_autoencoder()

    def config(self) -> dict[str, Any]:
        built = self.built_architecture or architecture_id(self.architecture)
        cfg: dict[str, Any] = {
            "architecture": built,
            "norm": self.norm,
            "noise": self.noise,
            "weight_decay": self.weight_decay,
            "lr": self.lr,
        }
        if built not in MAGNET_ARCHITECTURES:  # generic or a callable: the network depends on the shape
            cfg["input_shape"] = list(self.input_shape) if self.input_shape is not None else None
        return cfg

    def training_loss(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """MSE between the clean x and AE(x + noise) (noise clipped into [0, 1])."""
        noisy = x
        if self.noise > 0:
            eps = torch.randn(x.shape, generator=generator).to(x.device)
            noisy = (x + self.noise * eps).clamp(0, 1)
        return F.mse_loss(self.ae(noisy), x)

    def fit(self, ctx: FitContext) -> None:
        self.build(tuple(ctx.train.x.shape[1:]), ctx.num_classes)
        g = seeded(ctx.seed)  # the initialisation below, then the batches
        self.ae = self.new_autoencoder()
        gn = torch.Generator().manual_seed(ctx.seed + 1)  # the training noise
        train_loop(
            self,
            lambda batch: self.training_loss(batch[0], gn),
            (ctx.train.x,),
            epochs=ctx.epochs,
            batch_size=ctx.batch_size,
            lr=self.lr,
            weight_decay=self.weight_decay,
            seed=g,
            desc=self.name,
            params=self.ae.parameters,
            device=ctx.device,
        )

    def purify(self, x: Tensor) -> Tensor:
        return self.ae(x)

    def score(self, x: Tensor) -> Tensor:
        """Mean |x − AE(x)|^p per example."""
        return (x - self.ae(x)).abs().pow(self.norm).flatten(1).mean(1)

    def attack_outputs(
        self, x: Tensor, purified: bool = False
    ) -> tuple[Tensor, Tensor | None, Tensor | None]:
        """One AE pass gives the reformed logits C(AE(x)), the reconstruction error and AE(x)."""
        own = self.inherits(MagNet, "score", "purify") and self.inherits(BaseDefence, "unflagged_logits")
        if not (self.differentiable and own):  # a subclass that redefines a part: the separate calls
            return super().attack_outputs(x, purified)
        rec = self.ae(x)
        score = (x - rec).abs().pow(self.norm).flatten(1).mean(1)
        return self.classifier(rec), score, (rec if purified else None)

    def predict_and_score(self, x: Tensor) -> tuple[Tensor, Tensor]:
        rec = self.ae(x)
        return self.classifier(rec).argmax(1), (x - rec).abs().pow(self.norm).flatten(1).mean(1)
