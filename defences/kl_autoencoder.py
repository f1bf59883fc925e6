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
reconstruction may leave [0, 1] — the classifier is simply applied to it. Trained with Adam, lr 1e-3,
batch 128 (50 epochs in the paper; the suite's scale sets the epochs).

Two training options the paper does not use, both off by default (and then out of the cache key): ``shift``
(random whole-pixel shifts of the training inputs, an augmentation that enlarges the training set) and
``train_noise`` (a denoising AE: Gaussian noise on the AE's input, the clean x as the target). They
exist to measure why the embedded-scale AE-KL corrects FGSM ε 0.3 far worse than 001 reports
(docs/replication.md); the shifts and the noise come from the training's seeded generator.

Other shapes (:mod:`robustcheck.defences.architectures`): ``architecture="auto"`` (default) builds A.1 for
1×28×28, A.3 for 3×32×32 and otherwise the generic convolutional autoencoder (conv 3×3 stride 2 stages
down to at most 4×4, linear → ``latent_dim``, mirrored transposed convs, crop to H×W, linear output, as
A.1). ``"mnist"`` / ``"cifar10"`` insist on the paper's network (a ConfigError on other shapes). A
callable ``architecture(input_shape: tuple[int, int, int]) -> nn.Module`` returns the autoencoder itself
(N×C×H×W → N×C×H×W; ``latent_dim`` is then not used). :meth:`build` makes the network for the data's
shape (the engine calls it; :meth:`fit` calls it too).

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
from robustcheck.defences.base import BaseDefence, FitContext, flag_selected_logits, gaussian_corruption
from robustcheck.defences.registry import DEFENCES
from robustcheck.errors import ConfigError
from robustcheck.models.taps import check_layers, forward_with_taps
from robustcheck.models.training import seeded, train_loop
from robustcheck.validation import check_int, check_number


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
        nn.Conv2d(3, 32, 4, stride=2, padding=1),
        nn.ReLU(),  # 16
        nn.Conv2d(32, 64, 4, stride=2, padding=1),
        nn.ReLU(),  # 8
        nn.Conv2d(64, 256, 4, stride=2, padding=1),
        nn.ReLU(),  # 4
        nn.Flatten(),
        nn.Linear(256 * 4 * 4, latent_dim),
        nn.Linear(latent_dim, 2048),
        nn.ReLU(),
        nn.Unflatten(1, (128, 4, 4)),
        nn.ConvTranspose2d(128, 256, 4, stride=2, padding=1),
        nn.ReLU(),  # 8
        nn.ConvTranspose2d(256, 64, 4, stride=2, padding=1),
        nn.ReLU(),  # 16
        nn.ConvTranspose2d(64, 3, 4, stride=2, padding=1),  # 32, linear output
    )


AE_ARCHITECTURES: dict[str, tuple[Callable[[int], nn.Module], tuple[int, int, int]]] = {
    "mnist": (mnist_autoencoder, (1, 28, 28)),
    "cifar10": (cifar10_autoencoder, (3, 32, 32)),
}


def paper_architecture_for(shape: tuple[int, ...]) -> str | None:
    """The name in :data:`AE_ARCHITECTURES` whose input shape is ``shape``, or None."""
    return next((name for name, (_, s) in AE_ARCHITECTURES.items() if s == tuple(shape)), None)


def autoencoder_for(shape: Shape, latent_dim: int) -> nn.Module:
    """A.1 / A.3 where the shape matches, else the generic convolutional AE with a linear output."""
    name = paper_architecture_for(shape)
    return AE_ARCHITECTURES[name][0](latent_dim) if name else generic_autoencoder(shape, latent_dim)


def random_shift(x: Tensor, shift: int, generator: torch.Generator) -> Tensor:
    """Each image of ``x`` (N×C×H×W) moved by its own random whole-pixel offset (dy, dx), each uniform in
    [−shift, shift], with zeros shifted in at the borders (training augmentation)."""
    n, _, h, w = x.shape
    offsets = torch.randint(-shift, shift + 1, (n, 2), generator=generator).to(x.device)
    padded = F.pad(x, (shift, shift, shift, shift))
    rows = torch.arange(h, device=x.device) + shift - offsets[:, :1]  # n×h: output row r reads r − dy
    cols = torch.arange(w, device=x.device) + shift - offsets[:, 1:]
    idx = torch.arange(n, device=x.device).view(n, 1, 1)
    return padded.permute(0, 2, 3, 1)[idx, rows.view(n, h, 1), cols.view(n, 1, w)].permute(0, 3, 1, 2)


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
    """The logits and the output of one named submodule of a classifier (:mod:`robustcheck.models.taps`).

    Args:
        model: the classifier.
        layer: a name from ``model.named_modules()`` (for ``nn.Sequential`` the index, e.g. ``"4"``).
    """

    def __init__(self, model: nn.Module, layer: str) -> None:
        check_layers(model, [layer], "hidden_layer: the classifier")
        self.model, self.layer = model, layer

    def __call__(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """(logits, flattened feature map F(x)) of one forward pass."""
        logits, (feat,) = forward_with_taps(self.model, x, [self.layer])
        return logits, feat.flatten(1)


class _AutoencoderDefence(BaseDefence):
    is_detector = True
    is_purifier = True
    trainable = True
    purify_range = None  # A.1/A.3 end in a linear layer: the reconstruction may leave [0, 1] (module doc)
    loss: ClassVar[str] = "kl"

    def __init__(
        self,
        *,
        latent_dim: int = 10,
        lr: float = 1e-3,
        architecture: str | Callable[[Shape], nn.Module] = "auto",
        shift: int = 0,
        train_noise: float = 0.0,
    ) -> None:
        super().__init__()
        check_architecture(self.name, architecture, tuple(AE_ARCHITECTURES))
        if not isinstance(latent_dim, int) or latent_dim <= 0:
            raise ConfigError(f"defence {self.name!r}: latent_dim must be a positive int, got {latent_dim!r}")
        if not lr > 0:
            raise ConfigError(f"defence {self.name!r}: lr must be > 0, got {lr!r}")
        where = f"defence {self.name!r}"
        self.shift = int(check_int(where, "shift", shift, minimum=0, maximum=8) or 0)  # pixels
        self.train_noise = float(check_number(where, "train_noise", train_noise, minimum=0.0) or 0.0)
        self.latent_dim, self.lr, self.architecture = latent_dim, float(lr), architecture
        #: the shape the autoencoder was built for (None: a callable not called yet) and the network built
        self.input_shape: Shape | None = None
        self.built_architecture: str | None = None
        self.ae: nn.Module = Unbuilt(self.name)
        self._built = False  # build() was called (the shape is the data's, not the default one)
        if isinstance(architecture, str):  # "auto" starts as A.1 (the default MNIST suite's network)
            name = "mnist" if architecture == "auto" else architecture
            factory, self.input_shape = AE_ARCHITECTURES[name]
            self.ae, self.built_architecture = factory(latent_dim), name

    def resolve(self, shape: Shape) -> str:
        """The network ``architecture`` gives for ``shape``: a paper name, ``"generic"``, a callable's id."""
        if callable(self.architecture):
            return architecture_id(self.architecture)
        if self.architecture == "auto":
            return paper_architecture_for(shape) or "generic"
        self.check_input_shape(shape)
        return self.architecture

    def build(self, input_shape: tuple[int, ...], num_classes: int) -> None:
        """(Re)build the autoencoder for ``input_shape`` unless it was built for it already."""
        shape = as_shape(self.name, input_shape)
        name = self.resolve(shape)
        self._built = True
        if shape == self.input_shape and name == self.built_architecture:
            return
        if callable(self.architecture):
            self.ae = call_architecture(self.name, self.architecture, shape)
        else:
            self.ae = (
                autoencoder_for(shape, self.latent_dim)
                if name == "generic"
                else AE_ARCHITECTURES[name][0](self.latent_dim)
            )
        self.input_shape, self.built_architecture = shape, name
        self.on_rebuilt()

    def on_rebuilt(self) -> None:
        """Hook: the autoencoder was rebuilt for a new shape (the hidden-layer head follows)."""

    def config(self) -> dict[str, Any]:
        cfg: dict[str, Any] = {"loss": self.loss, "latent_dim": self.latent_dim, "lr": self.lr}
        built = self.built_architecture or architecture_id(self.architecture)
        if built != "mnist":  # the default keeps the skeleton's cache key
            cfg["architecture"] = built
        if built not in AE_ARCHITECTURES:  # generic or a callable: the network depends on the shape
            cfg["input_shape"] = list(self.input_shape) if self.input_shape is not None else None
        if self.shift:
            cfg["shift"] = self.shift
        if self.train_noise:
            cfg["train_noise"] = self.train_noise
        return cfg

    def augment(self, x: Tensor, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        """(AE input, clean target input) of one training batch: each input moved by a random whole-pixel
        shift in [−shift, shift]² (zeros shifted in), then the AE's copy corrupted as clip(x + σ·n, 0, 1),
        n ~ N(0, I), σ = ``train_noise`` (the target stays clean: a denoising AE). Unchanged when both
        are 0."""
        if self.shift:
            x = random_shift(x, self.shift, generator)
        return gaussian_corruption(x, self.train_noise, generator), x

    def training_loss(
        self, x: Tensor, target_logits: Tensor | None = None, x_in: Tensor | None = None
    ) -> Tensor:
        """Eq 5 (KL(M(x) ‖ M(AE(x))), or MSE for ``ae-mse``); ``target_logits``: M(x) computed beforehand
        (:meth:`fixed_targets`), else computed here; ``x_in``: the AE's input when it is not ``x`` (a
        noisy copy, :meth:`augment`)."""
        recon = self.ae(x if x_in is None else x_in)
        if self.loss == "mse":
            return F.mse_loss(recon, x)
        if target_logits is None:
            with torch.no_grad():
                target_logits = self.classifier(x)
        return kl_divergence(target_logits, self.classifier(recon)).mean()

    def fixed_targets(self, x: Tensor, device: torch.device | str | None) -> Tensor | None:
        """The frozen classifier's logits M(x) on the training inputs, computed once before training (the
        target side of the KL loss has no gradient and the classifier never changes while the AE trains, and
        is not a submodule: it stays in eval mode): one forward pass per input instead of one per epoch.
        None when the loss needs no target (MSE), the target needs more than the logits (a hidden-layer
        head) or the inputs change every epoch (``shift``)."""
        if self.loss == "mse" or getattr(self, "head", None) is not None or self.shift:
            return None
        clf = self.classifier
        with torch.no_grad():
            return torch.cat(
                [clf(x[i : i + 500].to(device or x.device)).to(x.device) for i in range(0, len(x), 500)]
            )

    def trained_parameters(self) -> list[nn.Parameter]:
        """Parameters the optimiser updates (the AE; subclasses add heads)."""
        return list(self.ae.parameters())

    def check_input_shape(self, shape: tuple[int, ...]) -> None:
        """A ConfigError (one sentence) when a named paper architecture does not take ``shape``."""
        if isinstance(self.architecture, str) and self.architecture in AE_ARCHITECTURES:
            takes = AE_ARCHITECTURES[self.architecture][1]
            if tuple(shape) != takes:
                raise shape_mismatch(self.name, self.architecture, fmt_shape(takes), tuple(shape))

    def fit(self, ctx: FitContext, on_epoch_end: Callable[[int], None] | None = None) -> None:
        """Adam on :meth:`training_loss` (:func:`robustcheck.models.training.train_loop`);
        ``on_epoch_end(epoch)`` (1-based) lets the ensemble save checkpoints."""
        self.build(tuple(ctx.train.x.shape[1:]), ctx.num_classes)
        targets = self.fixed_targets(ctx.train.x, ctx.device)
        g = seeded(ctx.seed)  # shuffles the batches and draws the shifts and the training noise

        def batch_loss(batch: tuple[Tensor, ...]) -> Tensor:
            x_in, x = self.augment(batch[0], g)  # (x, x), nothing drawn, when both options are off
            return self.training_loss(x, batch[1] if len(batch) > 1 else None, x_in)

        train_loop(
            self,
            batch_loss,
            (ctx.train.x,) if targets is None else (ctx.train.x, targets),
            epochs=ctx.epochs,
            batch_size=ctx.batch_size,
            lr=self.lr,
            seed=g,
            desc=self.name,
            params=self.trained_parameters,
            device=ctx.device,
            on_epoch_end=on_epoch_end,
        )

    def purify(self, x: Tensor) -> Tensor:
        return self.ae(x)

    def score(self, x: Tensor) -> Tensor:
        """Eq 6: S(x) = KL(M(x) ‖ M(AE(x)))."""
        return kl_divergence(self.classifier(x), self.classifier(self.ae(x)))

    def attack_outputs(
        self, x: Tensor, purified: bool = False
    ) -> tuple[Tensor, Tensor | None, Tensor | None]:
        """C(x), AE(x) and C(AE(x)) once each give the unflagged logits (C(x): flagged inputs only are
        reformed), the score and the reconstruction (a detector-aware step made five passes before)."""
        own = self.inherits(_AutoencoderDefence, "score", "purify") and self.inherits(
            BaseDefence, "unflagged_logits"
        )
        if not (self.differentiable and own):  # a subclass that redefines a part: the separate calls
            return super().attack_outputs(x, purified)
        logits, rec = self.classifier(x), self.ae(x)
        return logits, kl_divergence(logits, self.classifier(rec)), (rec if purified else None)

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
        """C(AE(x)) on flagged rows, C(x) on the others, as
        :func:`robustcheck.defences.base.flag_selected_logits` (the passes of the score are shared)."""
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
        architecture: ``"auto"`` (default: A.1 for 1×28×28, A.3 for 3×32×32, the generic conv AE
            otherwise), ``"mnist"`` (A.1 only), ``"cifar10"`` (A.3 conv AE only) or a callable
            ``architecture(input_shape: tuple[int, int, int]) -> nn.Module`` returning the autoencoder.
        temperature: T of eq 9; the training target becomes M(x)_T (T < 1 sharpens). T = 1 is eq 5.
            The adversarial score (eq 6) always uses the unscaled M(x).
        hidden_layer: name of a classifier submodule (``named_modules()``); when set, a linear + softmax
            head y_ψ on its flattened output (eq 7) is trained jointly with the AE on eq 8.
        hidden_dim: output size of that head (the paper projects onto 10–50 dimensions).
        lam: λ of eq 8, the weight of the hidden-layer KL term.
        shift: training augmentation the paper does not use (0, the default, is the paper): each training
            input moved by a random whole-pixel offset in [−shift, shift]² every time it is drawn, the
            target M(x) taken on the moved input.
        train_noise: σ of a denoising variant the paper does not use (0, the default, is the paper): the
            AE reads clip(x + σ·n, 0, 1), n ~ N(0, I), and is trained towards M(x) of the clean x.
    """

    name = "ae-kl"
    loss = "kl"

    def __init__(
        self,
        *,
        latent_dim: int = 10,
        lr: float = 1e-3,
        architecture: str | Callable[[Shape], nn.Module] = "auto",
        temperature: float = 1.0,
        hidden_layer: str | None = None,
        hidden_dim: int = 10,
        lam: float = 1.0,
        shift: int = 0,
        train_noise: float = 0.0,
    ) -> None:
        super().__init__(
            latent_dim=latent_dim, lr=lr, architecture=architecture, shift=shift, train_noise=train_noise
        )
        if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not temperature > 0:
            raise ConfigError(f"defence {self.name!r}: temperature must be a number > 0, got {temperature!r}")
        if hidden_layer is not None and (not isinstance(hidden_layer, str) or not hidden_layer):
            raise ConfigError(
                f"defence {self.name!r}: hidden_layer must be a submodule name, got {hidden_layer!r}"
            )
        if not isinstance(hidden_dim, int) or isinstance(hidden_dim, bool) or hidden_dim < 2:
            raise ConfigError(f"defence {self.name!r}: hidden_dim must be an int >= 2, got {hidden_dim!r}")
        if isinstance(lam, bool) or not isinstance(lam, (int, float)) or not lam >= 0:
            raise ConfigError(f"defence {self.name!r}: lam must be a number >= 0, got {lam!r}")
        self.temperature, self.hidden_layer = float(temperature), hidden_layer
        self.hidden_dim, self.lam = hidden_dim, float(lam)
        self.head: nn.Sequential | None = None

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
            self._tap = LayerTap(classifier, self.hidden_layer)
            self._build_head(provisional=not self._built and self.architecture == "auto")
        return self

    def on_rebuilt(self) -> None:
        if self.hidden_layer is not None and self._classifier:
            self._build_head(provisional=False)

    def _build_head(self, provisional: bool) -> None:
        """The eq 7 head on the flattened ``hidden_layer`` output of an input of the built shape.

        ``provisional``: :meth:`build` has not run and ``"auto"`` still has its default 1×28×28 network;
        if the classifier does not take that shape, the head waits for :meth:`build` (called by ``fit``)."""
        if self.input_shape is None:
            return  # a callable architecture not built yet: build() makes the head
        p = next(iter(self.classifier.parameters()), None)
        try:
            with torch.no_grad():
                _, feat = self._tap(
                    torch.zeros(1, *self.input_shape, device=p.device if p is not None else "cpu")
                )
        except RuntimeError:
            if provisional:
                return
            raise
        if self.head is None or self.head[0].in_features != feat.shape[1]:
            self.head = nn.Sequential(nn.Linear(feat.shape[1], self.hidden_dim))

    def trained_parameters(self) -> list[nn.Parameter]:
        return super().trained_parameters() + (list(self.head.parameters()) if self.head is not None else [])

    def training_loss(
        self, x: Tensor, target_logits: Tensor | None = None, x_in: Tensor | None = None
    ) -> Tensor:
        """Eq 5, with eq 9 (temperature on the target M(x)) and eq 8 (λ · hidden-layer KL) when set;
        ``target_logits``: M(x) computed beforehand (no head only), else computed here; ``x_in``: the
        AE's input when it is not ``x`` (:meth:`augment`)."""
        recon = self.ae(x if x_in is None else x_in)
        if self.head is None:
            if target_logits is None:
                with torch.no_grad():
                    target_logits = self.classifier(x)
            target = temperature_scaled(target_logits, self.temperature)
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
