"""Class-conditional VAE detector of seed 004 (ch. 6): ``cvae-detector``.

Training (004 §6.2.2, eq 6.2): a conditional VAE is trained on clean training images with their
*true* labels c, loss BCE(X, dec(z, c)) + KL(q(z|X, c) ‖ N(0, I)). Conditioning as in the paper:
separate encoder/decoder weights θ(c) per class (``conditioning="separate"``); as an option, one
network with a one-hot code of c concatenated to the encoder features and to z (``"onehot"``).

Architecture (Table 6.1): encoder conv c→32→64→128 (4×4, stride 2, padding 1) with BatchNorm (+ReLU
after the first two), linear heads μ and log σ² of size zdim = 128; decoder linear zdim → 128·4·4,
transposed conv 128→64→32→c (4×4, stride 2, padding 1) with BatchNorm + ReLU and a sigmoid output.
The table's flattened size 1024 matches neither 28×28 nor 32×32 inputs (128·4·4 = 2048 for 32×32);
we zero-pad 28×28 images to 32×32 so the 4→8→16→32 decoder mirrors the encoder, use 2048, and crop
the reconstruction back.

Other shapes (:mod:`robustcheck.defences.architectures`): the network is built by :meth:`CVAEDetector.build`
from the data's C×H×W and number of classes (``channels`` and ``num_classes`` are only the sizes used before
``build``). ``architecture="auto"`` (default) is Table 6.1 for c×28×28 and c×32×32 (``"table6.1"`` insists on
those) and otherwise the same layers on the input zero-padded (centred) to the next multiple of 8 per side, at
least 16 (so the last BatchNorm sees at least 2×2 values per example even for an 8×8 image), with the
flattened size 128·(H′/8)·(W′/8) and the reconstruction cropped back to H×W. A callable
``architecture(input_shape: tuple[int, int, int], zdim: int, cond_dim: int) -> nn.Module`` returns one VAE
with the interface of :class:`TableVAE`: ``forward(x, cond=None, noise=None)`` → (reconstruction of x's shape
in [0, 1], μ, log σ²) with z = μ + σ·noise (noise None: z = μ), μ and log σ² of size ``zdim``, ``cond`` an
N×``cond_dim`` one-hot code (``cond_dim`` 0: no condition). It is called once per class (``"separate"``) or
once with ``cond_dim = num_classes`` (``"onehot"``).

Score (eq 6.3, Algorithm 1): with ŷ = C(X) the classifier's prediction,
S(X) = Recon(X, ŷ) = ‖X − X_rcn,ŷ‖²₂, reconstructing through the posterior mean (no sampling).

p-value (eq 6.4–6.5, permutation test): with the clean reference errors e₁ … e_N (by default
Recon(Xᵢ, yᵢ) on the training set, Algorithm 1 line 3),
p(X) = (1 + #{i : eᵢ ≥ S(X)}) / (N + 1).
Eq 6.5 as printed counts the reference errors *below* the test error, which would make p large for
adversarial inputs; the text ("larger p-value implies … clean", flag p ≤ t) fixes the direction used
here. X is flagged when p(X) ≤ t.

Thresholding in robustcheck: the engine thresholds ``score`` with "higher = more adversarial" at a
false-positive rate on clean validation data. The score is the raw error S(X), and p is a
non-increasing function of S, so p(X) ≤ t ⟺ S(X) > τ(t) for the τ given by
:meth:`CVAEDetector.error_threshold_for_p`. With ``p_threshold=t`` set, :meth:`calibrate` uses that τ
(the paper's rule) instead of the FPR; otherwise the suite's FPR sets the threshold. Detection AUC is
the same for S and 1 − p up to ties. The reference errors are a buffer, so they are saved with
``state_dict``. The defence is a detector only: the defended label is C(X).

Threat models: grey-box (x′ crafted on C); white-box targets C (the default ``attack_model`` of a
detector; an attack on the detector score is not implemented here).
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
    crop_to,
    pad_to,
    shape_mismatch,
    with_architecture,
)
from robustcheck.defences.base import BaseDefence, FitContext
from robustcheck.defences.registry import DEFENCES
from robustcheck.defences.vae_purifiers import elbo_terms
from robustcheck.errors import ConfigError
from robustcheck.models.training import seeded, train_loop


class TableVAE(nn.Module):
    """004 Table 6.1 VAE; ``cond_dim`` > 0 adds a one-hot condition.

    Inputs up to ``padded`` (H′, W′, multiples of 8; 32×32 in the table) are zero-padded to it, centred,
    and the reconstruction is cropped back to the input's size (28×28 MNIST images: 2 pixels a side)."""

    def __init__(
        self, channels: int = 1, zdim: int = 128, cond_dim: int = 0, padded: tuple[int, int] = (32, 32)
    ) -> None:
        super().__init__()
        if padded[0] % 8 or padded[1] % 8:
            raise ConfigError(f"The Table 6.1 VAE needs a padded size that is a multiple of 8, got {padded}.")
        self.cond_dim, self.padded = cond_dim, (int(padded[0]), int(padded[1]))
        fh, fw = padded[0] // 8, padded[1] // 8
        flat = 128 * fh * fw
        self.encoder = nn.Sequential(
            nn.Conv2d(channels, 32, 4, 2, 1),
            nn.BatchNorm2d(32),
            nn.ReLU(),
            nn.Conv2d(32, 64, 4, 2, 1),
            nn.BatchNorm2d(64),
            nn.ReLU(),
            nn.Conv2d(64, 128, 4, 2, 1),
            nn.BatchNorm2d(128),
            nn.Flatten(),
        )
        self.mean = nn.Linear(flat + cond_dim, zdim)
        self.logvar = nn.Linear(flat + cond_dim, zdim)
        self.project = nn.Linear(zdim + cond_dim, flat)
        self.decoder = nn.Sequential(
            nn.Unflatten(1, (128, fh, fw)),
            nn.ConvTranspose2d(128, 64, 4, 2, 1),
            nn.BatchNorm2d(64),
            nn.ReLU(),
            nn.ConvTranspose2d(64, 32, 4, 2, 1),
            nn.BatchNorm2d(32),
            nn.ReLU(),
            nn.ConvTranspose2d(32, channels, 4, 2, 1),
            nn.Sigmoid(),
        )

    def encode(self, x: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        h = self.encoder(pad_to(x, self.padded))
        if cond is not None:
            h = torch.cat([h, cond], 1)
        return self.mean(h), self.logvar(h)

    def decode(self, z: Tensor, cond: Tensor | None = None) -> Tensor:
        """The reconstruction at the padded size."""
        if cond is not None:
            z = torch.cat([z, cond], 1)
        return self.decoder(self.project(z))

    def forward(
        self, x: Tensor, cond: Tensor | None = None, noise: Tensor | None = None
    ) -> tuple[Tensor, Tensor, Tensor]:
        """(reconstruction cropped to x's size, μ, log σ²); z = μ + σ·noise (noise None: z = μ)."""
        mu, logvar = self.encode(x, cond)
        z = mu if noise is None else mu + (0.5 * logvar).exp() * noise
        return crop_to(self.decode(z, cond), x.shape), mu, logvar


TABLE_SIZES = ((28, 28), (32, 32))  # Table 6.1 (28×28 zero-padded to 32×32)
TableArchitecture = Callable[[Shape, int, int], nn.Module]


def table_vae_padding(shape: Shape) -> tuple[int, int]:
    """The padded size of the Table 6.1 layers for ``shape``: 32×32 for the table's sizes, else the next
    multiple of 8 per side, at least 16 (module doc)."""
    if tuple(shape[1:]) in TABLE_SIZES:
        return (32, 32)
    return tuple(max(16, -(-s // 8) * 8) for s in shape[1:])  # type: ignore[return-value]


def resolve_table_architecture(defence: str, architecture: str | TableArchitecture, shape: Shape) -> str:
    """``"table6.1"``, ``"generic"`` or a callable's id for ``shape`` (ConfigError if ``"table6.1"``
    does not take it)."""
    if callable(architecture):
        return architecture_id(architecture)
    fits = tuple(shape[1:]) in TABLE_SIZES
    if architecture == "table6.1" and not fits:
        raise shape_mismatch(defence, "table6.1", "c×28×28 or c×32×32", shape)
    return "table6.1" if fits else "generic"


def make_table_vae(
    defence: str, architecture: str | TableArchitecture, shape: Shape, zdim: int, cond_dim: int = 0
) -> nn.Module:
    """One VAE for ``shape``: the user's callable, or the Table 6.1 layers (padded as needed)."""
    if callable(architecture):
        return call_architecture(defence, architecture, shape, zdim, cond_dim)
    return TableVAE(shape[0], zdim, cond_dim, table_vae_padding(shape))


def p_values(errors: Tensor, reference: Tensor) -> Tensor:
    """Eq 6.4–6.5: p = (1 + #{i : refᵢ ≥ e}) / (N + 1) for each e in ``errors``."""
    ref = torch.sort(reference.detach().double().view(-1).cpu()).values
    e = errors.detach().double().view(-1).cpu()
    n_below = torch.searchsorted(ref, e, right=False)  # #{refᵢ < e}
    return ((ref.numel() - n_below + 1).double() / (ref.numel() + 1)).to(errors.device)


@DEFENCES.register("cvae-detector")
class CVAEDetector(BaseDefence):
    """``cvae-detector``: 004 ch. 6 class-conditional VAE reconstruction-error detector with p-values."""

    name = "cvae-detector"
    is_detector = True
    is_purifier = False
    trainable = True

    reference_errors: Tensor  # buffer: the sorted reconstruction errors p-values are taken against

    def __init__(
        self,
        *,
        conditioning: str = "separate",
        num_classes: int = 10,
        channels: int = 1,
        zdim: int = 128,
        lr: float = 1e-3,
        reference: str = "train",
        p_threshold: float | None = None,
        architecture: str | TableArchitecture = "auto",
    ) -> None:
        super().__init__()
        check_architecture(self.name, architecture, ("table6.1",))
        if conditioning not in ("separate", "onehot"):
            raise ConfigError(
                f"defence {self.name!r}: conditioning must be 'separate' (004) or 'onehot', "
                f"got {conditioning!r}"
            )
        for k, v in (("num_classes", num_classes), ("channels", channels), ("zdim", zdim)):
            if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
                raise ConfigError(f"defence {self.name!r}: {k} must be a positive int, got {v!r}")
        if not (isinstance(lr, (int, float)) and lr > 0):
            raise ConfigError(f"defence {self.name!r}: lr must be > 0, got {lr!r}")
        if reference not in ("train", "val"):
            raise ConfigError(
                f"defence {self.name!r}: reference must be 'train' (Algorithm 1) or 'val', got {reference!r}"
            )
        if p_threshold is not None and not (isinstance(p_threshold, (int, float)) and 0 < p_threshold < 1):
            raise ConfigError(
                f"defence {self.name!r}: p_threshold must be in (0, 1) or None, got {p_threshold!r}"
            )
        self.conditioning, self.num_classes, self.channels, self.zdim = (
            conditioning,
            num_classes,
            channels,
            zdim,
        )
        self.lr, self.reference, self.p_threshold = float(lr), reference, p_threshold
        self.architecture = architecture
        #: the shape the VAEs were built for (a callable waits for build()) and the network built
        self.input_shape: Shape | None = None
        self.built_architecture: str | None = None
        if conditioning == "separate":
            self.vaes = nn.ModuleList()
        else:
            self.vae: nn.Module = Unbuilt(self.name)
        if isinstance(architecture, str):  # Table 6.1 for channels×28×28 until build() says otherwise
            self._install((channels, 28, 28), num_classes, "table6.1")
        self.register_buffer("reference_errors", torch.zeros(0))

    def _install(self, shape: Shape, num_classes: int, name: str) -> None:
        if self.conditioning == "separate":
            self.vaes = nn.ModuleList(
                [make_table_vae(self.name, self.architecture, shape, self.zdim) for _ in range(num_classes)]
            )
        else:
            self.vae = make_table_vae(self.name, self.architecture, shape, self.zdim, cond_dim=num_classes)
        self.input_shape, self.built_architecture = shape, name
        self.channels, self.num_classes = shape[0], num_classes

    def _plan(self, shape: Shape | None, name: str | None) -> tuple[Any, ...]:
        """What the networks depend on (the Table 6.1 VAE is the same for 28×28 and 32×32)."""
        if shape is None or callable(self.architecture):
            return (name, shape)
        return (name, shape[0], table_vae_padding(shape))

    def build(self, input_shape: tuple[int, ...], num_classes: int) -> None:
        """(Re)build the VAEs for ``input_shape`` and ``num_classes`` unless they were built for them."""
        shape = as_shape(self.name, input_shape)
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
            raise ConfigError(
                f"Defence {self.name!r} needs at least 2 classes, but the data has {num_classes!r}."
            )
        name = resolve_table_architecture(self.name, self.architecture, shape)
        if (
            self._plan(shape, name) == self._plan(self.input_shape, self.built_architecture)
            and num_classes == self.num_classes
        ):
            self.input_shape = shape
            return
        self._install(shape, num_classes, name)

    def config(self) -> dict[str, Any]:
        cfg: dict[str, Any] = {
            "conditioning": self.conditioning,
            "num_classes": self.num_classes,
            "channels": self.channels,
            "zdim": self.zdim,
            "lr": self.lr,
            "reference": self.reference,
        }
        return with_architecture(
            cfg, self.built_architecture, self.architecture, "table6.1", self.input_shape
        )

    def _load_from_state_dict(self, state_dict: Any, prefix: str, *args: Any, **kwargs: Any) -> None:
        key = prefix + "reference_errors"
        if key in state_dict:  # the number of reference errors is only known after fit
            self.reference_errors = torch.empty_like(state_dict[key])
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    # --- the conditional VAE --------------------------------------------------------------------
    def reconstruct(self, x: Tensor, c: Tensor, noise: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor]:
        """(X_rcn,c, μ, log σ²) for images ``x`` conditioned on labels ``c``."""
        if self.conditioning == "onehot":
            return self.vae(x, F.one_hot(c, self.num_classes).to(x.dtype), noise)
        r = torch.empty_like(x)
        mu = x.new_empty(x.shape[0], self.zdim)
        lv = x.new_empty(x.shape[0], self.zdim)
        for k in torch.unique(c).tolist():
            m = c == k
            r[m], mu[m], lv[m] = self.vaes[k](x[m], None, None if noise is None else noise[m])
        return r, mu, lv

    def recon_error(self, x: Tensor, c: Tensor) -> Tensor:
        """Eq 6.3: ‖X − X_rcn,c‖²₂ per example (posterior mean, no sampling)."""
        return (x - self.reconstruct(x, c)[0]).pow(2).flatten(1).sum(1)

    def fit(self, ctx: FitContext) -> None:
        self.build(tuple(ctx.train.x.shape[1:]), ctx.num_classes)
        g = seeded(ctx.seed)  # shuffles the batches and draws the VAE's noise

        def elbo(batch: tuple[Tensor, ...]) -> Tensor:
            x, y = batch
            noise = torch.randn(x.shape[0], self.zdim, generator=g).to(ctx.device)
            recon, mu, logvar = self.reconstruct(x, y, noise)
            bce, kl = elbo_terms(x, recon, mu, logvar)  # eq 6.2
            return (bce + kl).mean()

        train_loop(
            self,
            elbo,
            (ctx.train.x, ctx.train.y),
            epochs=ctx.epochs,
            batch_size=ctx.batch_size,
            lr=self.lr,
            seed=g,
            desc=self.name,
            device=ctx.device,
        )
        ref = ctx.train if self.reference == "train" else ctx.val
        with torch.no_grad():  # Algorithm 1 line 3: errors of the clean reference set with true labels
            errs = [
                self.recon_error(ref.x[i : i + 500].to(ctx.device), ref.y[i : i + 500].to(ctx.device))
                for i in range(0, len(ref), 500)
            ]
        self.reference_errors = torch.sort(torch.cat(errs)).values

    # --- detection -------------------------------------------------------------------------------
    def score(self, x: Tensor) -> Tensor:
        """S(X) = Recon(X, C(X)) (eq 6.3 with the predicted class); higher = more adversarial."""
        return self.recon_error(x, self.classifier(x).argmax(1))

    def p_value(self, x: Tensor) -> Tensor:
        """Eq 6.5 p-value of each input against the clean reference errors (small = adversarial)."""
        return self.p_value_of_errors(self.score(x))

    def p_value_of_errors(self, errors: Tensor) -> Tensor:
        if self.reference_errors.numel() == 0:
            raise ConfigError(f"defence {self.name!r}: no reference errors yet; call fit() first")
        return p_values(errors, self.reference_errors)

    def error_threshold_for_p(self, t: float) -> float:
        """τ with p(X) ≤ t ⟺ S(X) > τ: the (k+1)-th largest reference error, k = ⌊t(N+1)⌋ − 1."""
        ref = torch.sort(self.reference_errors.double().cpu(), descending=True).values
        k = int(torch.floor(torch.tensor(t * (ref.numel() + 1) + 1e-9)).item()) - 1
        if k < 0:
            return float("inf")  # no input can reach p ≤ t
        if k >= ref.numel():
            return float("-inf")
        return float(ref[k])

    @torch.no_grad()
    def calibrate(self, x_val: Tensor, fpr: float, batch_size: int = 500) -> float | None:
        """FPR calibration on clean validation data, or the paper's p ≤ t rule when ``p_threshold`` is set."""
        if self.p_threshold is None:
            return super().calibrate(x_val, fpr, batch_size)
        tau = self.error_threshold_for_p(self.p_threshold)
        self._threshold.fill_(tau)
        return tau
