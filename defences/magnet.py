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

This differs from ``ae-mse`` in the score (pixel-space reconstruction error, not the KL of eq 6) and in
reforming every input.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from defences.base import BaseDefence, FitContext
from defences.kl_autoencoder import mnist_autoencoder
from defences.registry import DEFENCES
from robustcheck.errors import ConfigError
from robustcheck.models.training import seeded_batches
from robustcheck.progress import progress


def magnet_autoencoder() -> nn.Module:
    """MagNet's MNIST autoencoder (detector I / reformer)."""
    return nn.Sequential(
        nn.Conv2d(1, 3, 3, padding=1), nn.Sigmoid(),
        nn.AvgPool2d(2),
        nn.Conv2d(3, 3, 3, padding=1), nn.Sigmoid(),
        nn.Conv2d(3, 3, 3, padding=1), nn.Sigmoid(),
        nn.Upsample(scale_factor=2),
        nn.Conv2d(3, 3, 3, padding=1), nn.Sigmoid(),
        nn.Conv2d(3, 1, 3, padding=1), nn.Sigmoid(),
    )


@DEFENCES.register("magnet")
class MagNet(BaseDefence):
    """Reconstruction-error detector + reformer.

    Args:
        architecture: ``"a1"`` (default: the A.1 autoencoder of ``ae-mse``) or ``"magnet"``.
        norm: 1 or 2, the power of the per-pixel reconstruction error.
        noise: std of the Gaussian noise added to training inputs.
        weight_decay: L2 penalty of Adam.
        lr: Adam learning rate.
    """

    name = "magnet"
    is_detector = True
    is_purifier = True
    trainable = True
    reforms_all = True  # the defended label is C(AE(x)) for every input, flagged or not

    def __init__(self, *, architecture: str = "a1", norm: int = 2, noise: float = 0.1,
                 weight_decay: float = 1e-9, lr: float = 1e-3) -> None:
        super().__init__()
        if architecture not in ("magnet", "a1"):
            raise ConfigError(f"defence {self.name!r}: architecture must be 'magnet' or 'a1', got {architecture!r}")
        if norm not in (1, 2) or isinstance(norm, bool):
            raise ConfigError(f"defence {self.name!r}: norm must be 1 or 2, got {norm!r}")
        for key, v in (("noise", noise), ("weight_decay", weight_decay)):
            if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
                raise ConfigError(f"defence {self.name!r}: {key} must be a number >= 0, got {v!r}")
        if not (isinstance(lr, (int, float)) and lr > 0):
            raise ConfigError(f"defence {self.name!r}: lr must be > 0, got {lr!r}")
        self.architecture, self.norm = architecture, norm
        self.noise, self.weight_decay, self.lr = float(noise), float(weight_decay), float(lr)
        self.ae = magnet_autoencoder() if architecture == "magnet" else mnist_autoencoder()

    def config(self) -> dict[str, Any]:
        return {"architecture": self.architecture, "norm": self.norm, "noise": self.noise,
                "weight_decay": self.weight_decay, "lr": self.lr}

    def training_loss(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """MSE between the clean x and AE(x + noise) (noise clipped into [0, 1])."""
        noisy = x
        if self.noise > 0:
            eps = torch.randn(x.shape, generator=generator).to(x.device)
            noisy = (x + self.noise * eps).clamp(0, 1)
        return F.mse_loss(self.ae(noisy), x)

    def fit(self, ctx: FitContext) -> None:
        if tuple(ctx.train.x.shape[1:]) != (1, 28, 28):
            raise ConfigError(f"defence {self.name!r}: the MNIST autoencoder takes 1×28×28 inputs, "
                              f"got {tuple(ctx.train.x.shape[1:])}")
        torch.manual_seed(ctx.seed)
        self.ae = magnet_autoencoder() if self.architecture == "magnet" else mnist_autoencoder()
        g = torch.Generator().manual_seed(ctx.seed)
        gn = torch.Generator().manual_seed(ctx.seed + 1)
        self.to(ctx.device).train()
        opt = torch.optim.Adam(self.ae.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        for _ in progress(range(ctx.epochs), desc=f"train {self.name}", unit="epoch"):
            for idx in seeded_batches(len(ctx.train), ctx.batch_size, g):
                opt.zero_grad(set_to_none=True)
                self.training_loss(ctx.train.x[idx].to(ctx.device), gn).backward()
                opt.step()
        self.eval()

    def purify(self, x: Tensor) -> Tensor:
        return self.ae(x)

    def score(self, x: Tensor) -> Tensor:
        """Mean |x − AE(x)|^p per example."""
        return (x - self.ae(x)).abs().pow(self.norm).flatten(1).mean(1)

    def predict_and_score(self, x: Tensor) -> tuple[Tensor, Tensor]:
        rec = self.ae(x)
        return self.classifier(rec).argmax(1), (x - rec).abs().pow(self.norm).flatten(1).mean(1)

