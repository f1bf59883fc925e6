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

from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from defences.base import BaseDefence, FitContext
from defences.registry import DEFENCES
from defences.vae_purifiers import elbo_terms
from robustcheck.errors import ConfigError
from robustcheck.models.training import seeded_batches
from robustcheck.progress import progress


class TableVAE(nn.Module):
    """004 Table 6.1 VAE on c×32×32 inputs; ``cond_dim`` > 0 adds a one-hot condition."""

    def __init__(self, channels: int = 1, zdim: int = 128, cond_dim: int = 0) -> None:
        super().__init__()
        self.cond_dim = cond_dim
        self.encoder = nn.Sequential(
            nn.Conv2d(channels, 32, 4, 2, 1), nn.BatchNorm2d(32), nn.ReLU(),
            nn.Conv2d(32, 64, 4, 2, 1), nn.BatchNorm2d(64), nn.ReLU(),
            nn.Conv2d(64, 128, 4, 2, 1), nn.BatchNorm2d(128), nn.Flatten(),
        )
        self.mean = nn.Linear(2048 + cond_dim, zdim)
        self.logvar = nn.Linear(2048 + cond_dim, zdim)
        self.project = nn.Linear(zdim + cond_dim, 2048)
        self.decoder = nn.Sequential(
            nn.Unflatten(1, (128, 4, 4)),
            nn.ConvTranspose2d(128, 64, 4, 2, 1), nn.BatchNorm2d(64), nn.ReLU(),
            nn.ConvTranspose2d(64, 32, 4, 2, 1), nn.BatchNorm2d(32), nn.ReLU(),
            nn.ConvTranspose2d(32, channels, 4, 2, 1), nn.Sigmoid(),
        )

    def encode(self, x: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        h = self.encoder(x)
        if cond is not None:
            h = torch.cat([h, cond], 1)
        return self.mean(h), self.logvar(h)

    def decode(self, z: Tensor, cond: Tensor | None = None) -> Tensor:
        if cond is not None:
            z = torch.cat([z, cond], 1)
        return self.decoder(self.project(z))

    def forward(self, x: Tensor, cond: Tensor | None = None, noise: Tensor | None = None
                ) -> tuple[Tensor, Tensor, Tensor]:
        """(reconstruction, μ, log σ²); z = μ + σ·noise (noise None: z = μ)."""
        mu, logvar = self.encode(x, cond)
        z = mu if noise is None else mu + (0.5 * logvar).exp() * noise
        return self.decode(z, cond), mu, logvar


def pad32(x: Tensor) -> Tensor:
    """Zero-pad 28×28 images to 32×32 (Table 6.1 needs 32×32); 32×32 passes through."""
    h, w = x.shape[-2:]
    if (h, w) == (32, 32):
        return x
    if (h, w) != (28, 28):
        raise ConfigError(f"the 004 Table 6.1 VAE takes 28×28 or 32×32 images, got {h}×{w}")
    return F.pad(x, (2, 2, 2, 2))


def crop_like(r: Tensor, x: Tensor) -> Tensor:
    off = (r.shape[-1] - x.shape[-1]) // 2
    return r[..., off : off + x.shape[-2], off : off + x.shape[-1]]


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

    def __init__(self, *, conditioning: str = "separate", num_classes: int = 10, channels: int = 1,
                 zdim: int = 128, lr: float = 1e-3, reference: str = "train",
                 p_threshold: float | None = None) -> None:
        super().__init__()
        if conditioning not in ("separate", "onehot"):
            raise ConfigError(f"defence {self.name!r}: conditioning must be 'separate' (004) or 'onehot', "
                              f"got {conditioning!r}")
        for k, v in (("num_classes", num_classes), ("channels", channels), ("zdim", zdim)):
            if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
                raise ConfigError(f"defence {self.name!r}: {k} must be a positive int, got {v!r}")
        if not (isinstance(lr, (int, float)) and lr > 0):
            raise ConfigError(f"defence {self.name!r}: lr must be > 0, got {lr!r}")
        if reference not in ("train", "val"):
            raise ConfigError(f"defence {self.name!r}: reference must be 'train' (Algorithm 1) or 'val', "
                              f"got {reference!r}")
        if p_threshold is not None and not (isinstance(p_threshold, (int, float)) and 0 < p_threshold < 1):
            raise ConfigError(f"defence {self.name!r}: p_threshold must be in (0, 1) or None, got {p_threshold!r}")
        self.conditioning, self.num_classes, self.channels, self.zdim = conditioning, num_classes, channels, zdim
        self.lr, self.reference, self.p_threshold = float(lr), reference, p_threshold
        if conditioning == "separate":
            self.vaes = nn.ModuleList([TableVAE(channels, zdim) for _ in range(num_classes)])
        else:
            self.vae = TableVAE(channels, zdim, cond_dim=num_classes)
        self.register_buffer("reference_errors", torch.zeros(0))

    def config(self) -> dict[str, Any]:
        return {"conditioning": self.conditioning, "num_classes": self.num_classes, "channels": self.channels,
                "zdim": self.zdim, "lr": self.lr, "reference": self.reference}

    def _load_from_state_dict(self, state_dict: Any, prefix: str, *args: Any, **kwargs: Any) -> None:
        key = prefix + "reference_errors"
        if key in state_dict:  # the number of reference errors is only known after fit
            self.reference_errors = torch.empty_like(state_dict[key])
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    # --- the conditional VAE --------------------------------------------------------------------
    def reconstruct(self, x: Tensor, c: Tensor, noise: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor]:
        """(X_rcn,c, μ, log σ²) for images ``x`` conditioned on labels ``c`` (28×28 crops kept)."""
        xp = pad32(x)
        if self.conditioning == "onehot":
            r, mu, lv = self.vae(xp, F.one_hot(c, self.num_classes).to(x.dtype), noise)
            return crop_like(r, x), mu, lv
        r = torch.empty_like(xp)
        mu = x.new_empty(x.shape[0], self.zdim)
        lv = x.new_empty(x.shape[0], self.zdim)
        for k in torch.unique(c).tolist():
            m = c == k
            r[m], mu[m], lv[m] = self.vaes[k](xp[m], None, None if noise is None else noise[m])
        return crop_like(r, x), mu, lv

    def recon_error(self, x: Tensor, c: Tensor) -> Tensor:
        """Eq 6.3: ‖X − X_rcn,c‖²₂ per example (posterior mean, no sampling)."""
        return (x - self.reconstruct(x, c)[0]).pow(2).flatten(1).sum(1)

    def fit(self, ctx: FitContext) -> None:
        if ctx.num_classes != self.num_classes:
            raise ConfigError(f"defence {self.name!r}: built for {self.num_classes} classes, data has "
                              f"{ctx.num_classes}; pass num_classes={ctx.num_classes}")
        if ctx.train.x.shape[1] != self.channels:
            raise ConfigError(f"defence {self.name!r}: built for {self.channels} channels, data has "
                              f"{ctx.train.x.shape[1]}; pass channels={ctx.train.x.shape[1]}")
        torch.manual_seed(ctx.seed)
        g = torch.Generator().manual_seed(ctx.seed)
        self.to(ctx.device).train()
        opt = torch.optim.Adam(self.parameters(), lr=self.lr)
        for _ in progress(range(ctx.epochs), desc=f"train {self.name}", unit="epoch"):
            for idx in seeded_batches(len(ctx.train), ctx.batch_size, g):
                x, y = ctx.train.x[idx].to(ctx.device), ctx.train.y[idx].to(ctx.device)
                noise = torch.randn(x.shape[0], self.zdim, generator=g).to(ctx.device)
                recon, mu, logvar = self.reconstruct(x, y, noise)
                bce, kl = elbo_terms(x, recon, mu, logvar)  # eq 6.2
                opt.zero_grad(set_to_none=True)
                (bce + kl).mean().backward()
                opt.step()
        self.eval()
        ref = ctx.train if self.reference == "train" else ctx.val
        with torch.no_grad():  # Algorithm 1 line 3: errors of the clean reference set with true labels
            errs = [self.recon_error(ref.x[i : i + 500].to(ctx.device), ref.y[i : i + 500].to(ctx.device))
                    for i in range(0, len(ref), 500)]
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
