"""The defence protocol and a base class that makes the common cases short.

A defence can be a *detector* (``score`` returns higher values for adversarial inputs; a threshold is
set on clean validation data at a false-positive rate), a *purifier* (``purify`` maps an input to a
cleaned one), or both. ``predict`` gives the defended label:

- detector and purifier: C(P(x)) where S(x) > t, else C(x)  (001 §3.2); a defence that reforms every
  input (MagNet) sets ``reforms_all = True``: C(P(x)) for all inputs
- purifier only: C(P(x))
- detector only: C(x)  (flagged inputs count as defended through ``defended_rate``)

One function decides the label: :meth:`BaseDefence.defended_logits`, logits whose argmax *is* the
defended label (``predict`` is its argmax). Whatever an attacker differentiates or queries is built from
it, so the attacked function is the evaluated one (EVALUATION.md): white-box attacks differentiate
:meth:`BaseDefence.attack_model` (``defended_logits`` as a module: BPDA through ``bpda_surrogate`` where
``differentiable = False``), black-box attacks query it through ``robustcheck.threat.DefendedLogits``, and
detector-aware attacks get :meth:`BaseDefence.unflagged_logits`, the logits of the label an input gets
when it is *not* flagged. A defence that overrides ``predict`` must override ``defended_logits`` to
match (:func:`logits_with_labels` makes any differentiable surrogate agree with given labels).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, runtime_checkable

import torch
from torch import Tensor, nn

from robustcheck.data import Split
from robustcheck.errors import ModelContractError
from robustcheck.metrics import threshold_at_fpr


@dataclass
class FitContext:
    """Everything a defence may use to train: the frozen classifier and the clean splits."""

    classifier: nn.Module
    train: Split
    val: Split
    num_classes: int
    epochs: int
    seed: int
    device: torch.device
    batch_size: int = 128


@runtime_checkable
class DefenceProtocol(Protocol):
    """What the engine needs from a defence."""

    name: str

    def fit(self, ctx: FitContext) -> None: ...

    def predict(self, x: Tensor) -> Tensor: ...

    def predict_and_score(self, x: Tensor) -> tuple[Tensor, Tensor | None]:
        """Defended labels and detector scores (None for non-detectors) in one pass.

        Override to share forward passes between ``predict`` and ``score`` (the engine calls this)."""
        # ``score`` and ``is_detector`` are not protocol members (isinstance checks need only the ones
        # above); a defence that inherits this default has them, as BaseDefence does
        defence: Any = self
        return defence.predict(x), (defence.score(x) if defence.is_detector else None)

    def attack_model(self) -> nn.Module: ...


@runtime_checkable
class Detector(Protocol):
    threshold: float | None

    def score(self, x: Tensor) -> Tensor: ...


@runtime_checkable
class Purifier(Protocol):
    def purify(self, x: Tensor) -> Tensor: ...


class _Pipeline(nn.Module):
    """The defended pipeline as one module (the white-box attack target): ``defence.defended_logits``.

    Where the defence declares ``differentiable = False``, the gradient through P is taken by BPDA
    (Athalye et al. 2018): the forward pass uses P(x) exactly, the backward pass differentiates
    ``bpda_surrogate(x)`` instead (the identity unless the defence overrides it).
    """

    def __init__(self, defence: BaseDefence) -> None:
        super().__init__()
        self.training = False  # a wrapper around frozen models; torchattacks restores this flag recursively
        self.defence = defence

    def forward(self, x: Tensor) -> Tensor:
        return self.defence.defended_logits(x)


def gaussian_corruption(x: Tensor, sigma: float, generator: torch.Generator | None = None) -> Tensor:
    """clip(x + σ·n, 0, 1), n ~ N(0, I) drawn from ``generator`` (on the CPU, then moved to x's device): the
    training noise of the denoising defences (003 §4.1's x̃; ``ae-kl``'s ``train_noise``). x itself when
    σ = 0 (nothing drawn)."""
    if sigma == 0:
        return x
    noise = torch.randn(x.shape, generator=generator, dtype=x.dtype).to(x.device)
    return (x + sigma * noise).clamp(0, 1)


def straight_through(forward_value: Tensor, surrogate: Tensor) -> Tensor:
    """A tensor equal to ``forward_value`` whose gradient is that of ``surrogate`` (BPDA)."""
    return surrogate + (forward_value - surrogate).detach()


def logits_with_labels(surrogate: Tensor, labels: Tensor) -> Tensor:
    """``surrogate`` (values and gradients), with the logit of ``labels`` lifted by a constant just above
    the row's maximum where the surrogate's argmax differs: argmax is exactly ``labels``, gradients are
    the surrogate's. Makes a differentiable surrogate of a non-differentiable decision (a vote) agree
    with the decision."""
    with torch.no_grad():
        top = surrogate.amax(1)
        cur = surrogate.gather(1, labels.view(-1, 1)).squeeze(1)
        gap = (top - cur) + 1e-3 * (1.0 + top.abs())
        lift = torch.where(surrogate.argmax(1) != labels, gap, torch.zeros_like(gap))
    return surrogate + nn.functional.one_hot(labels, surrogate.shape[1]).to(surrogate.dtype) * lift.view(
        -1, 1
    )


def flag_selected_logits(base: Tensor, purified: Tensor, flagged: Tensor) -> Tensor:
    """The defended label of a flag-selected pipeline (C(P(x)) where flagged, else C(x)) as logits for an
    attacker: argmax is exactly the selected branch's label; the gradient is that of C(P(x)), the
    corrector (the KL paper's white-box attack on the defended pipeline).

    Measured on the default suite (ae-kl, 500 digits, same trained models): following the selected branch
    alone (C(x) on clean, unflagged inputs) is myopic (white-box FGSM ε 0.3 left 0.316 corrected accuracy,
    the grey-box value; 0.006 with this gradient); for PGD-40 ε 0.1 the gradient of log softmax C(x) +
    log softmax C(P(x)) lowered the defended rate to 0.864 but left 0.652 corrected accuracy, this one
    leaves 0.542 (defended rate 0.960), the same as differentiating plain C∘AE with its own labels (0.542,
    one-off measurement of 2026-11-26). Detector-aware attacks (``sigma-pgd`` …) target the defended rate."""
    labels = torch.where(flagged, purified.argmax(1), base.argmax(1))
    return logits_with_labels(purified, labels)


class BaseDefence(nn.Module):
    """Base of the built-in defences.

    Subclasses set ``is_detector`` / ``is_purifier`` and implement ``fit`` plus ``score`` and/or
    ``purify``. Trainable state lives in submodules/buffers so ``state_dict`` round-trips it; the
    classifier is bound by :meth:`bind` and never saved with the defence.
    """

    #: The registry name; an instance may be renamed (the ensemble names its per-architecture trainers).
    name: str = "defence"
    #: ``score(x)`` is implemented; higher means more adversarial; a threshold is set at the suite's FPR.
    is_detector: ClassVar[bool] = False
    #: ``purify(x)`` is implemented; the defended prediction uses C(P(x)).
    is_purifier: ClassVar[bool] = False
    #: ``fit(ctx)`` trains state that the engine caches through ``state_dict``.
    trainable: ClassVar[bool] = False
    #: ``purify`` can be differentiated end to end; if False, white-box attacks use BPDA through
    #: :meth:`bpda_surrogate`.
    differentiable: ClassVar[bool] = True
    #: ``score`` can be differentiated (detector-aware adaptive attacks use it).
    differentiable_score: ClassVar[bool] = True
    #: ``purify``/``score`` are random; white-box attacks should average gradients over samples (EOT).
    stochastic: ClassVar[bool] = False
    #: A detector *and* purifier that reforms every input (MagNet): the label is C(P(x)) flagged or not.
    #: False (001 §3.2): only flagged inputs are purified.
    reforms_all: ClassVar[bool] = False
    #: The interval ``purify`` outputs lie in. The default is the image box [0, 1]; a purifier whose paper
    #: network has an unbounded (linear) output declares ``None`` so the contract check lets it through.
    purify_range: ClassVar[tuple[float, float] | None] = (0.0, 1.0)

    _threshold: Tensor  # buffer (NaN: not calibrated)

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("_threshold", torch.tensor(float("nan")))
        self._classifier: list[nn.Module] = []  # a list keeps it out of state_dict and .parameters()

    # --- wiring -----------------------------------------------------------------------------
    def build(self, input_shape: tuple[int, ...], num_classes: int) -> None:
        """Build the networks that depend on the data: ``input_shape`` is C×H×W of one example and
        ``num_classes`` the number of classes of the suite's data. The engine calls it once, before
        :meth:`bind`, under an RNG seeded from (suite seed, defence name), so initial weights never depend
        on the process history. It must be idempotent (a second call with the same shape changes nothing)
        and raise :class:`~robustcheck.errors.ConfigError` in whole sentences when the defence cannot take
        the shape. Default: nothing to build."""

    def bind(self, classifier: nn.Module) -> BaseDefence:
        self._classifier = [classifier]
        return self

    @property
    def classifier(self) -> nn.Module:
        if not self._classifier:
            raise ModelContractError(f"defence {self.name!r} is not bound to a classifier; call bind()")
        return self._classifier[0]

    def config(self) -> dict[str, Any]:
        """Hyper-parameters that identify a trained instance (part of its cache key)."""
        return {}

    # --- training and calibration -------------------------------------------------------------
    def fit(self, ctx: FitContext) -> None:
        """Train the defence (no-op for parameter-free defences)."""

    @property
    def threshold(self) -> float | None:
        t = float(self._threshold)
        return None if math.isnan(t) else t

    @torch.no_grad()
    def calibrate(self, x_val: Tensor, fpr: float, batch_size: int = 500) -> float | None:
        """Set the detection threshold on clean validation inputs at the given false-positive rate."""
        if not self.is_detector:
            return None
        t = threshold_at_fpr(self.batched(self.score, x_val, batch_size), fpr)
        self._threshold.fill_(t)
        return t

    # --- inference ----------------------------------------------------------------------------
    def score(self, x: Tensor) -> Tensor:
        raise NotImplementedError(f"defence {self.name!r} is not a detector")

    def purify(self, x: Tensor) -> Tensor:
        return x

    def bpda_surrogate(self, x: Tensor) -> Tensor:
        """Differentiable stand-in for ``purify`` used in the backward pass when ``differentiable`` is
        False. Identity by default (BPDA-identity); override with a smooth approximation if you have one."""
        return x

    def flagged(self, x: Tensor) -> Tensor:
        t = self.threshold
        if not self.is_detector or t is None:
            return torch.zeros(x.shape[0], dtype=torch.bool, device=x.device)
        return self.score(x) > t

    def attack_purify(self, x: Tensor) -> Tensor:
        """P(x) as an attacker differentiates it: P itself, or BPDA through ``bpda_surrogate`` when the
        defence declares ``differentiable = False`` (same forward value)."""
        if self.differentiable:
            return self.purify(x)
        return straight_through(self.purify(x).detach(), self.bpda_surrogate(x))

    def unflagged_logits(self, x: Tensor) -> Tensor:
        """Logits of the label an input gets when it is *not* flagged (what a detector-aware attacker must
        fool): C(P(x)) for a purifier that reforms every input it labels, C(x) otherwise."""
        if self.is_purifier and (self.reforms_all or not self.is_detector):
            return self.classifier(self.attack_purify(x))
        return self.classifier(x)

    def inherits(self, owner: type, *names: str) -> bool:
        """True when this defence's class takes each named method from ``owner`` unchanged (no subclass
        redefined it): an override that shares the passes of several methods is valid only then."""
        return all(getattr(type(self), n) is getattr(owner, n) for n in names)

    def attack_outputs(
        self, x: Tensor, purified: bool = False
    ) -> tuple[Tensor, Tensor | None, Tensor | None]:
        """(:meth:`unflagged_logits`, :meth:`score` or None for a non-detector, :meth:`attack_purify` or None
        unless ``purified`` and a purifier), differentiable: what a detector-aware attack's objective reads
        each step. Override to share forward passes between them (the values and gradients must equal the
        separate calls'); this default makes the three calls."""
        score = self.score(x) if self.is_detector else None
        purified_x = self.attack_purify(x) if purified and self.is_purifier else None
        return self.unflagged_logits(x), score, purified_x

    def defended_logits(self, x: Tensor) -> Tensor:
        """Logits whose argmax is the defended label (:meth:`predict`); differentiable where the defence
        is (BPDA where declared). For a detector that purifies flagged inputs only, the label is C(P(x)) on
        flagged rows and C(x) on the others: see :func:`flag_selected_logits` for the gradient."""
        if not (self.is_purifier and self.is_detector and not self.reforms_all):
            return self.unflagged_logits(x)
        return flag_selected_logits(
            self.classifier(x), self.classifier(self.attack_purify(x)), self.flagged(x)
        )

    def predict(self, x: Tensor) -> Tensor:
        return self.defended_logits(x).argmax(1)

    def predict_and_score(self, x: Tensor) -> tuple[Tensor, Tensor | None]:
        """Defended labels and detector scores (None for non-detectors) in one pass.

        Override to share forward passes between ``predict`` and ``score`` (the engine calls this)."""
        return self.predict(x), (self.score(x) if self.is_detector else None)

    def attack_model(self) -> nn.Module:
        """The module a white-box attacker differentiates: :meth:`defended_logits` (C itself when the
        defence never changes the label)."""
        if not self.is_purifier:
            return self.classifier
        return _Pipeline(self)

    @staticmethod
    @torch.no_grad()
    def batched(fn: Any, x: Tensor, batch_size: int = 500) -> Tensor:
        return torch.cat([fn(x[i : i + batch_size]) for i in range(0, x.shape[0], batch_size)])


@torch.no_grad()
def check_outputs(defence: BaseDefence, x: Tensor) -> None:
    """The part of the defence contract that needs no threshold, run before calibration: ``score`` is a
    finite 1-d float tensor with one value per input, ``purify`` a finite tensor of the input's shape
    within :attr:`purify_range`, and both repeat exactly unless the defence declares ``stochastic``."""
    name, n = defence.name, x.shape[0]

    def call(what: str, fn: Any) -> Any:
        try:
            return fn(x)
        except ModelContractError:
            raise
        except Exception as exc:
            detail = " ".join(str(exc).split())[:300]
            raise ModelContractError(
                f"defence {name!r}: {what} failed on a batch of clean validation data of "
                f"shape {tuple(x.shape)}: {type(exc).__name__}: {detail}"
            ) from None

    outputs = []
    if defence.is_detector:
        score = call("score", defence.score)
        if not isinstance(score, Tensor) or score.shape != (n,) or not score.is_floating_point():
            what = (
                f"{score.dtype} of shape {tuple(score.shape)}"
                if isinstance(score, Tensor)
                else type(score).__name__
            )
            raise ModelContractError(
                f"defence {name!r}: score must return a 1-d float tensor of shape ({n},) (one "
                f"score per input); got {what}."
            )
        if not torch.isfinite(score).all():
            raise ModelContractError(f"defence {name!r}: score returned NaN or inf on clean inputs.")
        outputs.append(("score", defence.score, score))
    if defence.is_purifier:
        p = call("purify", defence.purify)
        if not isinstance(p, Tensor) or p.shape != x.shape:
            what = f"shape {tuple(p.shape)}" if isinstance(p, Tensor) else type(p).__name__
            raise ModelContractError(
                f"defence {name!r}: purify must return a tensor of the input's shape "
                f"{tuple(x.shape)}; got {what}."
            )
        if not torch.isfinite(p).all():
            raise ModelContractError(f"defence {name!r}: purify returned NaN or inf on clean inputs.")
        lo, hi = float(p.min()), float(p.max())
        rng = type(defence).purify_range
        if rng is not None and (lo < rng[0] - 1e-4 or hi > rng[1] + 1e-4):
            raise ModelContractError(
                f"defence {name!r}: purify returned values in [{lo:.3g}, {hi:.3g}], outside "
                f"[{rng[0]:g}, {rng[1]:g}]: a purified image must stay an image (clamp it), or "
                f"the class declares purify_range = None for an unbounded output."
            )
        outputs.append(("purify", defence.purify, p))
    if not defence.stochastic:
        for what, fn, first in outputs:
            if not torch.allclose(call(what, fn), first, rtol=1e-4, atol=1e-6):
                raise ModelContractError(
                    f"defence {name!r} is not deterministic: two calls of {what} on the same "
                    f"inputs differ. A randomized defence must declare stochastic = True so "
                    f"that white-box attacks average gradients (EOT)."
                )


@torch.no_grad()
def check_defence(defence: BaseDefence, x: Tensor) -> None:
    """The whole defence contract on one batch of clean validation data, after fit and calibration and
    before any attack: :func:`check_outputs`, then the defended labels are integer class indices of shape
    (N,) that repeat exactly unless the defence declares ``stochastic``. One
    :class:`ModelContractError` per breach, naming the defence and what it returned."""
    check_outputs(defence, x)
    name, n = defence.name, x.shape[0]

    def labels() -> Tensor:
        try:
            out = defence.predict(x)
        except ModelContractError:
            raise
        except Exception as exc:
            detail = " ".join(str(exc).split())[:300]
            raise ModelContractError(
                f"defence {name!r}: predict failed on a batch of clean validation data of "
                f"shape {tuple(x.shape)}: {type(exc).__name__}: {detail}"
            ) from None
        if (
            not isinstance(out, Tensor)
            or out.shape != (n,)
            or out.is_floating_point()
            or out.dtype == torch.bool
        ):
            what = (
                f"{out.dtype} of shape {tuple(out.shape)}" if isinstance(out, Tensor) else type(out).__name__
            )
            raise ModelContractError(
                f"defence {name!r}: predict must return integer class labels of shape ({n},); got {what}."
            )
        return out

    first = labels()
    if not defence.stochastic and not torch.equal(first, labels()):
        raise ModelContractError(
            f"defence {name!r} is not deterministic: two predictions on the same inputs "
            f"differ. A randomized defence must declare stochastic = True so that white-box "
            f"attacks average gradients (EOT)."
        )
