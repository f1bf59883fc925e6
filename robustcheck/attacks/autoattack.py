"""AutoAttack (Croce & Hein 2020), standard version: APGD-CE, APGD-T, FAB-T and Square, in that order.

Each attack runs only on the points that the previous ones did not break (and that the model classified
correctly). The components are torchattacks' own ``APGD``, ``APGDT``, ``FAB`` and ``Square`` classes
built here with the settings of the authors' reference implementation (``autoattack`` /
``pyautoattack``), not torchattacks' ``AutoAttack`` wrapper, which leaves APGD, APGD-T and FAB at
torchattacks' default of 10 iterations and runs Square with a rescaled p-schedule:

============  ==========================================================================
``standard``  apgd-ce (100 iterations, 1 restart), apgd-t (100 iterations, 9 target classes,
              1 restart), fab-t (100 iterations, 9 target classes, 1 restart), square
              (5000 queries, 1 restart, ``p_init`` 0.8, unrescaled p-schedule). The default and
              the release-gate setting.
``plus``      apgd-ce (5 restarts), apgd-dlr (5 restarts), fab (untargeted, 5 restarts), square
              (5000 queries), apgd-t (9 target classes), fab-t (9 target classes); 100 iterations
              each. The reference's "plus" version: stronger, several times slower.
``rand``      apgd-ce and apgd-dlr, 100 iterations, 1 restart, each gradient averaged over 20
              forward/backward passes (EOT). The reference's version for randomised defences; it
              attacks the model as passed, so the randomness must live inside the model.
============  ==========================================================================

"9 target classes" is ``min(9, n_classes - 1)``: every other class for a 10-class model, the 9 most
likely others for more classes (as the reference does). The number of classes is read from the model's
logits. APGD-T's targeted DLR loss needs at least 4 classes (untargeted DLR, in ``plus`` and ``rand``,
at least 3): fewer is a :class:`ConfigError`. There is no ``steps`` parameter, so ``Scale.attack_steps``
never weakens it: "autoattack" always means the version named. Fixed-ε, L∞, untargeted only (APGD-T and
FAB-T are targeted internally). Inputs of shape (N, C, H, W); (N, H, W) and flat (N, D) inputs with a
square D are viewed as one-channel images for the attacks (Square needs a height and a width) and
reshaped back before the model sees them.

Args:
    version: ``"standard"`` (default), ``"plus"`` or ``"rand"``.

Example:
    >>> attack = AutoAttackLinf()
    >>> [res] = attack(model, x, y, eps=[0.3])   # doctest: +SKIP
    >>> attack.last_breakdown                    # doctest: +SKIP
    [('clean', 97), ('apgd-ce', 12), ('apgd-t', 10), ('fab-t', 10), ('square', 10)]
"""

from __future__ import annotations

import contextlib
import io
import math
import sys
import time
from collections.abc import Iterator
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from robustcheck.attacks.base import BaseAttack, query_model
from robustcheck.attacks.registry import ATTACKS
from robustcheck.errors import ConfigError
from robustcheck.norms import Norm

VERSIONS = ("standard", "plus", "rand")

# The standard settings (Croce & Hein 2020, the reference's ``AutoAttack._set_version``).
STEPS = 100
N_TARGET_CLASSES = 9
SQUARE_QUERIES = 5000
SQUARE_P_INIT = 0.8
PLUS_RESTARTS = 5
RAND_EOT_ITER = 20

COMPONENTS = {
    "standard": ("apgd-ce", "apgd-t", "fab-t", "square"),
    "plus": ("apgd-ce", "apgd-dlr", "fab", "square", "apgd-t", "fab-t"),
    "rand": ("apgd-ce", "apgd-dlr"),
}


#: What torchattacks' ``Attack.__init__`` prints (to stdout) for a model without parameters (our wrappers);
#: the device is set with ``set_device`` before each attack runs.
DEVICE_NOTICE = "Failed to set device automatically, please try set_device() manual."


@contextlib.contextmanager
def _without_device_notice() -> Iterator[None]:
    """Capture stdout around a torchattacks constructor and pass on everything it printed except the
    :data:`DEVICE_NOTICE` line."""
    buf = io.StringIO()
    try:
        with contextlib.redirect_stdout(buf):
            yield
    finally:
        kept = [line for line in buf.getvalue().splitlines(keepends=True) if line.strip() != DEVICE_NOTICE]
        if kept:
            sys.stdout.write("".join(kept))


class _AsImage(nn.Module):
    """Presents a model on (N, ...) inputs as one on (N, C, H, W) inputs (torchattacks needs 4-D)."""

    def __init__(self, model: nn.Module, shape: tuple[int, ...]) -> None:
        super().__init__()
        self.model = model
        self.shape = shape
        # torchattacks calls .train() on this wrapper afterwards if its flag says training: mirror the model's
        self.training = model.training

    def forward(self, x: Tensor) -> Tensor:
        return self.model(x.reshape(x.shape[0], *self.shape))


def _image_shape(shape: tuple[int, ...], name: str) -> tuple[int, int, int]:
    if len(shape) == 3:
        return shape
    if len(shape) == 2:
        return (1, *shape)
    if len(shape) == 1:
        side = math.isqrt(shape[0])
        if side * side == shape[0]:
            return (1, side, side)
    raise ConfigError(
        f"attack {name!r}: inputs of shape (N, {', '.join(map(str, shape))}) cannot be laid out as images; "
        f"AutoAttack's Square needs (N, C, H, W), (N, H, W) or flat (N, D) with a square D"
    )


class _AutoAttack(BaseAttack):
    supports_targeted = False
    ta_norm: ClassVar[str] = "Linf"

    def __init__(
        self, *, version: str = "standard", targeted: bool = False, seed: int = 0, batch_size: int = 250
    ) -> None:
        super().__init__(targeted=targeted, seed=seed, batch_size=batch_size)
        if version not in VERSIONS:
            raise ConfigError(
                f"attack {self.name!r}: version {version!r} unknown; known: {', '.join(VERSIONS)}"
            )
        self.version = version
        # the last ``run`` (one batch, one ε): [(stage, points still robust after it), ...], from "clean"
        self.last_breakdown: list[tuple[str, int]] = []
        #: wall seconds of each stage of the last run (CUDA: not synchronised, so only indicative)
        self.last_seconds: list[tuple[str, float]] = []

    def components(self, model: nn.Module, eps: float, n_classes: int) -> list[tuple[str, Any]]:
        """The torchattacks attacks of ``self.version``, in order, with the reference's settings."""
        import torchattacks

        min_classes = 4 if "apgd-t" in COMPONENTS[self.version] else 3
        if n_classes < min_classes:
            raise ConfigError(
                f"attack {self.name!r} ({self.version}): the model has {n_classes} classes; AutoAttack's DLR "
                f"losses need at least {min_classes} (APGD-T's targeted DLR divides by "
                f"z_(1) − (z_(3) + z_(4))/2)"
            )
        # torchattacks' APGDT and FAB use ``n_classes`` only to set ``n_target_classes = n_classes - 1``
        n_target = min(N_TARGET_CLASSES, n_classes - 1)
        norm, seed = self.ta_norm, self.seed
        restarts = PLUS_RESTARTS if self.version == "plus" else 1
        eot = RAND_EOT_ITER if self.version == "rand" else 1

        def build(stage: str) -> Any:
            if stage in ("apgd-ce", "apgd-dlr"):
                return torchattacks.APGD(
                    model,
                    norm=norm,
                    eps=eps,
                    steps=STEPS,
                    n_restarts=restarts,
                    seed=seed,
                    loss=stage[5:],
                    eot_iter=eot,
                    rho=0.75,
                )
            if stage == "apgd-t":
                return torchattacks.APGDT(
                    model,
                    norm=norm,
                    eps=eps,
                    steps=STEPS,
                    n_restarts=1,
                    seed=seed,
                    eot_iter=1,
                    rho=0.75,
                    n_classes=n_target + 1,
                )
            if stage in ("fab", "fab-t"):
                return torchattacks.FAB(
                    model,
                    norm=norm,
                    eps=eps,
                    steps=STEPS,
                    n_restarts=1 if stage == "fab-t" else restarts,
                    alpha_max=0.1,
                    eta=1.05,
                    beta=0.9,
                    seed=seed,
                    multi_targeted=stage == "fab-t",
                    n_classes=n_target + 1,
                )
            # resc_schedule=False as in the reference AutoAttack (torchattacks' default True halves the
            # query counts at which the square size shrinks when n_queries = 5000)
            return torchattacks.Square(
                model,
                norm=norm,
                eps=eps,
                n_queries=SQUARE_QUERIES,
                n_restarts=1,
                p_init=SQUARE_P_INIT,
                loss="margin",
                resc_schedule=False,
                seed=seed,
            )

        out = []
        for stage in COMPONENTS[self.version]:
            with _without_device_notice():
                atk = build(stage)
            if stage in ("apgd-t", "fab-t"):
                assert atk.n_target_classes == n_target, (stage, atk.n_target_classes, n_target)
            out.append((stage, atk))
        return out

    def run(self, model: nn.Module, x: Tensor, y: Tensor, eps: float | None, target: Tensor | None) -> Tensor:
        assert eps is not None
        with torch.no_grad():
            clean = model(x)
        if not isinstance(clean, Tensor) or clean.dim() != 2:
            got = tuple(clean.shape) if isinstance(clean, Tensor) else type(clean).__name__
            raise ConfigError(f"attack {self.name!r}: the model must return (N, classes) logits, got {got}")
        shape = tuple(x.shape[1:])
        if len(shape) == 3:
            net, xi = model, x
        else:
            net = _AsImage(model, shape)
            xi = x.reshape(x.shape[0], *_image_shape(shape, self.name))
        stages = self.components(net, eps, int(clean.shape[1]))  # validates the class count
        robust = ~self._fooled(model, x, y)  # misclassified points are already adversarial
        breakdown = [("clean", int(robust.sum()))]
        x_adv = x.clone()
        if eps == 0 or not bool(robust.any()):
            self.last_breakdown = breakdown
            return x_adv
        self.last_seconds = []
        for stage, atk in stages:
            idx = robust.nonzero().flatten()
            if idx.numel() == 0:
                breakdown.append((stage, 0))
                continue
            start = time.perf_counter()
            atk.set_device(x.device)
            cand = atk(xi[idx], y[idx]).detach().to(x.dtype).reshape(idx.numel(), *shape)
            # keep a point only if it fools the model within the budget (tolerance of the engine's check)
            ok = torch.isfinite(cand).flatten(1).all(1)
            ok &= (cand - x[idx]).abs().flatten(1).amax(1) <= eps + 1e-5
            ok &= (cand >= 0).flatten(1).all(1) & (cand <= 1).flatten(1).all(1)
            ok &= self._fooled(model, cand, y[idx])
            x_adv[idx[ok]] = cand[ok]
            robust[idx[ok]] = False
            breakdown.append((stage, int(robust.sum())))
            self.last_seconds.append((stage, time.perf_counter() - start))
        self.last_breakdown = breakdown
        return x_adv

    @torch.no_grad()
    def _fooled(self, model: nn.Module, x: Tensor, y: Tensor) -> Tensor:
        """Misclassified and, where the model is an oracle that reports detector flags, not flagged."""
        logits, flagged = query_model(model, x)
        fooled = logits.argmax(1) != y
        return fooled & ~flagged if flagged is not None else fooled


@ATTACKS.register("autoattack")
class AutoAttackLinf(_AutoAttack):
    norm = Norm.LINF
    name = "autoattack"
    ta_norm = "Linf"
