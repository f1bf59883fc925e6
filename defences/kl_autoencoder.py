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

from collections.abc import Callable
from typing import Any, ClassVar

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from defences.base import BaseDefence, FitContext, flag_selected_logits
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


def cifar10_autoencoder(latent_dim: int = 40) -> nn.Module:
    """Appendix A.3 convolutional autoencoder for 3×32×32 inputs (the paper's L1 regularisation is not
    applied here)."""
    return nn.Sequential(
        nn.Conv2d(3, 32, 4, stride=2, padding=1), nn.ReLU(),  # 16
        nn.Conv2d(32, 64, 4, stride=2, padding=1), nn.ReLU(),  # 8
        nn.Conv2d(64, 256, 4, stride=2, padding=1), nn.ReLU(),  # 4
        nn.Flatten(),
        nn.Linear(256 * 4 * 4, latent_dim),
        nn.Linear(latent_dim, 2048), nn.ReLU(),
        nn.Unflatten(1, (128, 4, 4)),
        nn.ConvTranspose2d(128, 256, 4, stride=2, padding=1), nn.ReLU(),  # 8
        nn.ConvTranspose2d(256, 64, 4, stride=2, padding=1), nn.ReLU(),  # 16
        nn.ConvTranspose2d(64, 3, 4, stride=2, padding=1),  # 32, linear output
    )


AE_ARCHITECTURES: dict[str, tuple[Callable[[int], nn.Module], tuple[int, int, int]]] = {
    "mnist": (mnist_autoencoder, (1, 28, 28)),
    "cifar10": (cifar10_autoencoder, (3, 32, 32)),
}


def kl_divergence(p_logits: Tensor, q_logits: Tensor) -> Tensor:
    """Per-example KL(softmax(p) ‖ softmax(q)), computed from logits in log-space."""
    log_p = F.log_softmax(p_logits, dim=1)
    log_q = F.log_softmax(q_logits, dim=1)
    return (log_p.exp() * (log_p - log_q)).sum(1)


def temperature_scaled(logits: Tensor, temperature: float) -> Tensor:
    """Eq 9: M(x)_T = M(x)^{1/T} / Σ_j M(x)_j^{1/T}, i.e. softmax(logits / T) (log-probabilities returned)."""
    return F.log_softmax(logits / temperature, dim=1)


def kl_from_log_probs(log_p: Tensor, q_logits: Tensor) -> Tensor:
    """Per-example KL(p ‖ softmax(q_logits)) for a target given as log-probabilities."""
    return (log_p.exp() * (log_p - F.log_softmax(q_logits, dim=1))).sum(1)


class LayerTap:
    """Captures the output of one named submodule of a classifier through a forward hook.

    Args:
        model: the classifier.
        layer: a name from ``model.named_modules()`` (for ``nn.Sequential`` the index, e.g. ``"4"``).
    """

    def __init__(self, model: nn.Module, layer: str) -> None:
        names = [n for n, _ in model.named_modules() if n]
        if layer not in names:
            raise ConfigError(f"hidden_layer {layer!r} is not a submodule of the classifier; known: {', '.join(names)}")
        self.model, self.layer = model, layer
        self.out: Tensor | None = None

    def __call__(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """(logits, flattened feature map F(x)) of one forward pass."""
        handle = self.model.get_submodule(self.layer).register_forward_hook(self._hook)
        try:
            logits = self.model(x)
        finally:
            handle.remove()
        assert self.out is not None
        feat, self.out = self.out.flatten(1), None
        return logits, feat

    def _hook(self, module: nn.Module, inputs: Any, output: Tensor) -> None:
        self.out = output


class _AutoencoderDefence(BaseDefence):
    is_detector = True
    is_purifier = True
    trainable = True
    loss: ClassVar[str] = "kl"

    def __init__(self, *, latent_dim: int = 10, lr: float = 1e-3, architecture: str = "mnist") -> None:
        super().__init__()
        if architecture not in AE_ARCHITECTURES:
            raise ConfigError(f"defence {self.name!r}: architecture must be one of {', '.join(AE_ARCHITECTURES)}, "
                              f"got {architecture!r}")
        if not isinstance(latent_dim, int) or latent_dim <= 0:
            raise ConfigError(f"defence {self.name!r}: latent_dim must be a positive int, got {latent_dim!r}")
        if not lr > 0:
            raise ConfigError(f"defence {self.name!r}: lr must be > 0, got {lr!r}")
        self.latent_dim, self.lr, self.architecture = latent_dim, float(lr), architecture
        factory, self.input_shape = AE_ARCHITECTURES[architecture]
        self.ae = factory(latent_dim)

    def config(self) -> dict[str, Any]:
        cfg: dict[str, Any] = {"loss": self.loss, "latent_dim": self.latent_dim, "lr": self.lr}
        if self.architecture != "mnist":  # the default keeps the skeleton's cache key
            cfg["architecture"] = self.architecture
        return cfg

    def training_loss(self, x: Tensor) -> Tensor:
        recon = self.ae(x)
        if self.loss == "mse":
            return F.mse_loss(recon, x)
        with torch.no_grad():
            target = self.classifier(x)
        return kl_divergence(target, self.classifier(recon)).mean()

    def trained_parameters(self) -> list[nn.Parameter]:
        """Parameters the optimiser updates (the AE; subclasses add heads)."""
        return list(self.ae.parameters())

    def check_input_shape(self, shape: tuple[int, ...]) -> None:
        if tuple(shape) != self.input_shape:
            raise ConfigError(
                f"defence {self.name!r}: the {self.architecture!r} autoencoder takes "
                f"{'×'.join(map(str, self.input_shape))} inputs, got {tuple(shape)}; set architecture="
            )

    def fit(self, ctx: FitContext, on_epoch_end: Callable[[int], None] | None = None) -> None:
        """Adam on :meth:`training_loss`; ``on_epoch_end(epoch)`` (1-based) lets the ensemble save checkpoints."""
        self.check_input_shape(tuple(ctx.train.x.shape[1:]))
        torch.manual_seed(ctx.seed)
        g = torch.Generator().manual_seed(ctx.seed)
        self.to(ctx.device).train()
        opt = torch.optim.Adam(self.trained_parameters(), lr=self.lr)
        for epoch in progress(range(ctx.epochs), desc=f"train {self.name}", unit="epoch"):
            for idx in seeded_batches(len(ctx.train), ctx.batch_size, g):
                opt.zero_grad(set_to_none=True)
                self.training_loss(ctx.train.x[idx].to(ctx.device)).backward()
                opt.step()
            if on_epoch_end is not None:
                on_epoch_end(epoch + 1)
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

    def defended_logits(self, x: Tensor) -> Tensor:
        """C(AE(x)) on flagged rows, C(x) on the others, as :func:`defences.base.flag_selected_logits`
        (the passes of the score are shared)."""
        logits, logits_rec = self.classifier(x), self.classifier(self.ae(x))
        t = self.threshold
        if t is None:
            return logits
        with torch.no_grad():
            flagged = kl_divergence(logits, logits_rec) > t
        return flag_selected_logits(logits, logits_rec, flagged)


@DEFENCES.register("ae-kl")
class AutoencoderKL(_AutoencoderDefence):
    """``ae-kl``: autoencoder trained on KL(M(x) ‖ M(AE(x))) (001 eq 5), detector + corrector.

    Args:
        latent_dim: size of the latent vector (10 in appendix A.1, 40 in A.3).
        lr: Adam learning rate.
        architecture: ``"mnist"`` (A.1, 1×28×28) or ``"cifar10"`` (A.3 conv AE, 3×32×32).
        temperature: T of eq 9; the training target becomes M(x)_T (T < 1 sharpens). T = 1 is eq 5.
            The adversarial score (eq 6) always uses the unscaled M(x).
        hidden_layer: name of a classifier submodule (``named_modules()``); when set, a linear + softmax
            head y_ψ on its flattened output (eq 7) is trained jointly with the AE on eq 8.
        hidden_dim: output size of that head (the paper projects onto 10–50 dimensions).
        lam: λ of eq 8, the weight of the hidden-layer KL term.
    """

    name = "ae-kl"
    loss = "kl"

    def __init__(self, *, latent_dim: int = 10, lr: float = 1e-3, architecture: str = "mnist",
                 temperature: float = 1.0, hidden_layer: str | None = None, hidden_dim: int = 10,
                 lam: float = 1.0) -> None:
        super().__init__(latent_dim=latent_dim, lr=lr, architecture=architecture)
        if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not temperature > 0:
            raise ConfigError(f"defence {self.name!r}: temperature must be a number > 0, got {temperature!r}")
        if hidden_layer is not None and (not isinstance(hidden_layer, str) or not hidden_layer):
            raise ConfigError(f"defence {self.name!r}: hidden_layer must be a submodule name, got {hidden_layer!r}")
        if not isinstance(hidden_dim, int) or isinstance(hidden_dim, bool) or hidden_dim < 2:
            raise ConfigError(f"defence {self.name!r}: hidden_dim must be an int >= 2, got {hidden_dim!r}")
        if isinstance(lam, bool) or not isinstance(lam, (int, float)) or not lam >= 0:
            raise ConfigError(f"defence {self.name!r}: lam must be a number >= 0, got {lam!r}")
        self.temperature, self.hidden_layer = float(temperature), hidden_layer
        self.hidden_dim, self.lam = hidden_dim, float(lam)
        self.head: nn.Module | None = None

    def config(self) -> dict[str, Any]:
        """Non-default options only, so a plain ``ae-kl`` keeps the skeleton's cache key."""
        cfg = super().config()
        if self.temperature != 1.0:
            cfg["temperature"] = self.temperature
        if self.hidden_layer is not None:
            cfg.update(hidden_layer=self.hidden_layer, hidden_dim=self.hidden_dim, lam=self.lam)
        return cfg

    def bind(self, classifier: nn.Module) -> AutoencoderKL:
        """Bind, and build the eq 7 head once the feature size of ``hidden_layer`` is known."""
        super().bind(classifier)
        if self.hidden_layer is not None:
            tap = LayerTap(classifier, self.hidden_layer)
            p = next(iter(classifier.parameters()), None)
            with torch.no_grad():
                _, feat = tap(torch.zeros(1, *self.input_shape, device=p.device if p is not None else "cpu"))
            if self.head is None or self.head[0].in_features != feat.shape[1]:
                self.head = nn.Sequential(nn.Linear(feat.shape[1], self.hidden_dim))
            self._tap = tap
        return self

    def trained_parameters(self) -> list[nn.Parameter]:
        return super().trained_parameters() + (list(self.head.parameters()) if self.head is not None else [])

    def training_loss(self, x: Tensor) -> Tensor:
        """Eq 5, with eq 9 (temperature on the target M(x)) and eq 8 (λ · hidden-layer KL) when set."""
        recon = self.ae(x)
        if self.head is None:
            with torch.no_grad():
                target = temperature_scaled(self.classifier(x), self.temperature)
            return kl_from_log_probs(target, self.classifier(recon)).mean()
        with torch.no_grad():
            logits, feat = self._tap(x)
        logits_rec, feat_rec = self._tap(recon)
        loss = kl_from_log_probs(temperature_scaled(logits, self.temperature), logits_rec)
        # eq 7: y_ψ = softmax(W_ψ F + b); ψ is trained too, so the target side keeps its gradient
        hidden = kl_divergence(self.head(feat), self.head(feat_rec))
        return (loss + self.lam * hidden).mean()


@DEFENCES.register("ae-mse")
class AutoencoderMSE(_AutoencoderDefence):
    """``ae-mse``: the same autoencoder trained with MSE (001's AE^MSE baseline)."""

    name = "ae-mse"
    loss = "mse"
