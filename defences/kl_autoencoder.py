"""KL-matching autoencoder detector and corrector (Vacanti & Van Looveren, seed 000/001) and its
AE^MSE baseline.

- ``ae-kl``: the autoencoder is trained with the classifier M frozen to minimise
  KL(M(x) ‖ M(AE(x))) (eq 5) — no reconstruction term. Adversarial score
  S(x) = KL(M(x) ‖ M(AE(x))) (eq 6); threshold t set on clean validation data at the configured FPR.
  Defended prediction: C(AE(x)) if S(x) > t, else C(x).
- ``ae-mse``: the same autoencoder and the same detection/correction rule, trained with the
  reconstruction loss ‖x − AE(x)‖² (the paper's AE^MSE baseline).

Architecture (appendix A.1, MNIST): encoder conv 64/128/512 filters 4×4 stride 2 + ReLU, flatten,
linear → 10-d latent; decoder linear → 1568 + ReLU, reshape 32×7×7, transposed conv 64 and 32
(3×3, stride 2, ReLU) and 1 (3×3, stride 1) with a linear output. The paper names no output
activation; a sigmoid output collapsed to an all-black reconstruction under MSE training within one
epoch here (measured: val MSE stuck at 0.113, outputs < 1e-22), so the output is linear and the
reconstruction may leave [0, 1] — the classifier is simply applied to it. Trained with Adam, lr 1e-3, batch 128 (50 epochs in the paper; the
suite's scale sets the epochs).

Threat models: grey-box (x′ crafted on C), white-box (x′ crafted on C∘AE).

Example:
    >>> d = DEFENCES.get("ae-kl")().bind(classifier)       # doctest: +SKIP
    >>> d.fit(ctx); d.calibrate(val.x, fpr=0.05)          # doctest: +SKIP
    >>> d.predict(x_adv)                                  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from defences.base import BaseDefence, FitContext
from defences.registry import DEFENCES
from robustcheck.errors import ConfigError
from robustcheck.models.training import seeded_batches
from robustcheck.progress import progress


def mnist_autoencoder(latent_dim: int = 10) -> nn.Module:
    """Appendix A.1 autoencoder for 1×28×28 inputs."""
    return nn.Sequential(
        nn.Conv2d(1, 64, 4, stride=2, padding=1),  # 14
        nn.ReLU(),
        nn.Conv2d(64, 128, 4, stride=2, padding=1),  # 7
        nn.ReLU(),
        nn.Conv2d(128, 512, 4, stride=2, padding=1),  # 3
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(512 * 3 * 3, latent_dim),
        nn.Linear(latent_dim, 1568),
        nn.ReLU(),
        nn.Unflatten(1, (32, 7, 7)),
        nn.ConvTranspose2d(32, 64, 3, stride=2, padding=1, output_padding=1),  # 14
        nn.ReLU(),
        nn.ConvTranspose2d(64, 32, 3, stride=2, padding=1, output_padding=1),  # 28
        nn.ReLU(),
        nn.ConvTranspose2d(32, 1, 3, stride=1, padding=1),
    )


def kl_divergence(p_logits: Tensor, q_logits: Tensor) -> Tensor:
    """Per-example KL(softmax(p) ‖ softmax(q)), computed from logits in log-space."""
    log_p = F.log_softmax(p_logits, dim=1)
    log_q = F.log_softmax(q_logits, dim=1)
    return (log_p.exp() * (log_p - log_q)).sum(1)


class _AutoencoderDefence(BaseDefence):
    is_detector = True
    is_purifier = True
    trainable = True
    loss: ClassVar[str] = "kl"

    def __init__(self, *, latent_dim: int = 10, lr: float = 1e-3) -> None:
        super().__init__()
        if not isinstance(latent_dim, int) or latent_dim <= 0:
            raise ConfigError(f"defence {self.name!r}: latent_dim must be a positive int, got {latent_dim!r}")
        if not lr > 0:
            raise ConfigError(f"defence {self.name!r}: lr must be > 0, got {lr!r}")
        self.latent_dim, self.lr = latent_dim, float(lr)
        self.ae = mnist_autoencoder(latent_dim)

    def config(self) -> dict[str, Any]:
        return {"loss": self.loss, "latent_dim": self.latent_dim, "lr": self.lr}

    def training_loss(self, x: Tensor) -> Tensor:
        recon = self.ae(x)
        if self.loss == "mse":
            return F.mse_loss(recon, x)
        with torch.no_grad():
            target = self.classifier(x)
        return kl_divergence(target, self.classifier(recon)).mean()

    def fit(self, ctx: FitContext) -> None:
        if tuple(ctx.train.x.shape[1:]) != (1, 28, 28):
            raise ConfigError(
                f"defence {self.name!r}: the appendix A.1 autoencoder takes 1×28×28 inputs, "
                f"got {tuple(ctx.train.x.shape[1:])}"
            )
        torch.manual_seed(ctx.seed)
        g = torch.Generator().manual_seed(ctx.seed)
        self.to(ctx.device).train()
        opt = torch.optim.Adam(self.ae.parameters(), lr=self.lr)
        for _ in progress(range(ctx.epochs), desc=f"train {self.name}", unit="epoch"):
            for idx in seeded_batches(len(ctx.train), ctx.batch_size, g):
                opt.zero_grad(set_to_none=True)
                self.training_loss(ctx.train.x[idx].to(ctx.device)).backward()
                opt.step()
        self.eval()

    def purify(self, x: Tensor) -> Tensor:
        return self.ae(x)

    def score(self, x: Tensor) -> Tensor:
        """Eq 6: S(x) = KL(M(x) ‖ M(AE(x)))."""
        return kl_divergence(self.classifier(x), self.classifier(self.ae(x)))

    def predict_and_score(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """One AE pass and two classifier passes give both the score and the defended label."""
        logits, logits_rec = self.classifier(x), self.classifier(self.ae(x))
        score = kl_divergence(logits, logits_rec)
        t = self.threshold
        flagged = score > t if t is not None else torch.zeros_like(score, dtype=torch.bool)
        return torch.where(flagged, logits_rec.argmax(1), logits.argmax(1)), score

    def predict(self, x: Tensor) -> Tensor:
        return self.predict_and_score(x)[0]


@DEFENCES.register("ae-kl")
class AutoencoderKL(_AutoencoderDefence):
    """``ae-kl``: autoencoder trained on KL(M(x) ‖ M(AE(x))) (001 eq 5), detector + corrector."""

    name = "ae-kl"
    loss = "kl"


@DEFENCES.register("ae-mse")
class AutoencoderMSE(_AutoencoderDefence):
    """``ae-mse``: the same autoencoder trained with MSE (001's AE^MSE baseline)."""

    name = "ae-mse"
    loss = "mse"
