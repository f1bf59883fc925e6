"""What attacks are handed besides a plain classifier: :class:`EOT` (expectation over a stochastic
module's randomness) and :class:`AdaptiveTarget` (a defence's parts, differentiable, for detector-aware
attacks). They live in the attacks layer because attacks consume them; they need only what a defence
exposes (:class:`DefenceParts`), never the defence classes themselves. The engine chooses which target a
case's threat model gets (:mod:`robustcheck.threat`).
"""

from __future__ import annotations

import warnings
from typing import Protocol

from torch import Tensor, nn

from robustcheck.attacks.gradients import fresh_randomness
from robustcheck.errors import ConfigError


class DefenceParts(Protocol):
    """The parts of a defence an adaptive attack may use (:class:`robustcheck.defences.BaseDefence`).
    Read-only: a defence declares the flags as class attributes and its threshold as a property."""

    @property
    def name(self) -> str: ...

    @property
    def is_detector(self) -> bool: ...

    @property
    def is_purifier(self) -> bool: ...

    @property
    def stochastic(self) -> bool: ...

    @property
    def threshold(self) -> float | None: ...

    def score(self, x: Tensor) -> Tensor: ...

    def attack_purify(self, x: Tensor) -> Tensor: ...

    def unflagged_logits(self, x: Tensor) -> Tensor: ...

    def attack_outputs(
        self, x: Tensor, purified: bool = False
    ) -> tuple[Tensor, Tensor | None, Tensor | None]: ...


class EOT(nn.Module):
    """Expectation over Transformation (Athalye et al. 2018) over ``samples`` draws of a module's randomness.

    Gradient attacks do not differentiate ``forward``: they call
    :func:`robustcheck.attacks.gradients.loss_gradient`, which recognises the wrapper by ``eot_samples``
    and ``module`` and averages the gradients of the *loss* of ``samples`` passes of ``module`` (the EOT
    estimate of E_r[∇ₓ L]); the gradient of the loss of averaged logits would be a different, biased
    quantity. ``forward`` is for plain prediction (and for third-party attacks that only take a module):
    the mean of the ``samples`` passes' logits. Every pass runs under
    :func:`robustcheck.attacks.gradients.fresh_randomness`, so a defence that predicts with a seeded draw
    samples its randomness afresh here (from the global generator, which the attacks seed).
    """

    def __init__(self, module: nn.Module, samples: int) -> None:
        super().__init__()
        self.training = False  # a wrapper around frozen models; torchattacks restores this flag recursively
        if isinstance(samples, bool) or not isinstance(samples, int) or samples <= 0:
            raise ConfigError(f"EOT samples must be a positive int, got {samples!r}")
        self.module, self.samples = module, samples

    @property
    def eot_samples(self) -> int:
        """Passes averaged (the attribute :func:`robustcheck.attacks.gradients.loss_gradient` looks for)."""
        return self.samples

    def forward(self, x: Tensor) -> Tensor:
        if self.samples == 1:
            return self.module(x)
        with fresh_randomness():
            out = self.module(x)
            for _ in range(self.samples - 1):
                out = out + self.module(x)
        return out / self.samples


class AdaptiveTarget(nn.Module):
    """What a detector-aware attack gets in white-box: the defence's parts, differentiable.

    ``forward(x)`` returns the logits that decide the label of an *unflagged* input
    (``defence.unflagged_logits``: C(x) for a detector that purifies flagged inputs only, C∘P for a
    purifier that reforms every input — MagNet — or a pure purifier, BPDA as declared; C for no
    defence), under EOT when the defence is stochastic; so "misclassified and not flagged" is
    ``forward(x).argmax(1) ≠ y`` and ``score(x) ≤ threshold``, and on unflagged inputs the argmax of
    ``forward`` is exactly ``defence.predict``. ``score`` is the defence's differentiable score
    (EOT-averaged when stochastic); ``purify`` is P (identity without a purifier).
    """

    def __init__(self, defence: DefenceParts | None, classifier: nn.Module, eot_samples: int = 1) -> None:
        super().__init__()
        self.training = False  # a wrapper around frozen models; torchattacks restores this flag recursively
        self.defence = defence
        self.classifier = classifier
        self.eot_samples = eot_samples
        self.has_detector = bool(
            defence is not None and defence.is_detector and defence.threshold is not None
        )
        self.has_purifier = bool(defence is not None and defence.is_purifier)
        if self.has_detector and defence is not None and not getattr(defence, "differentiable_score", True):
            raise ConfigError(
                f"defence {defence.name!r} declares differentiable_score = False; detector-aware "
                f"attacks need a differentiable score(x)"
            )
        if defence is None:
            self.label_model: nn.Module = classifier
        else:
            label_model: nn.Module = _UnflaggedLogits(defence)
            stochastic = getattr(defence, "stochastic", False)
            self.label_model = (
                EOT(label_model, eot_samples) if stochastic and eot_samples > 1 else label_model
            )

    @property
    def threshold(self) -> float | None:
        return self.defence.threshold if self.has_detector and self.defence is not None else None

    def forward(self, x: Tensor) -> Tensor:
        return self.label_model(x)

    def score(self, x: Tensor) -> Tensor | None:
        """Differentiable detector score (None without a detector)."""
        if not self.has_detector or self.defence is None:
            return None
        n = self.eot_samples if getattr(self.defence, "stochastic", False) else 1
        s = self.defence.score(x)
        for _ in range(n - 1):
            s = s + self.defence.score(x)
        if not s.requires_grad and x.requires_grad:
            warnings.warn(
                f"robustcheck: score of defence {self.defence.name!r} has no gradient", stacklevel=2
            )
        return s / n

    def purify(self, x: Tensor) -> Tensor:
        if not self.has_purifier or self.defence is None:
            return x
        return self.defence.attack_purify(x)

    def parts(self, x: Tensor, purified: bool = False) -> tuple[Tensor, Tensor | None, Tensor | None]:
        """(``forward(x)``, ``score(x)``, ``purify(x)`` if ``purified`` else None) in one go: the defence's
        ``attack_outputs`` shares the forward passes of the three (a detector-aware objective reads them
        every step); under EOT (a stochastic defence, ``eot_samples`` > 1) the separate averaged calls."""
        d = self.defence
        if d is None:
            return self.classifier(x), None, (x if purified else None)
        if getattr(d, "stochastic", False) and self.eot_samples > 1:
            return self.forward(x), self.score(x), (self.purify(x) if purified else None)
        logits, score, rec = d.attack_outputs(x, purified and self.has_purifier)
        if not self.has_detector:
            score = None
        elif score is not None and not score.requires_grad and x.requires_grad:
            warnings.warn(f"robustcheck: score of defence {d.name!r} has no gradient", stacklevel=2)
        if purified and rec is None:
            rec = x  # no purifier: P is the identity
        return logits, score, rec


class _UnflaggedLogits(nn.Module):
    def __init__(self, defence: DefenceParts) -> None:
        super().__init__()
        self.training = False
        self.defence = defence

    def forward(self, x: Tensor) -> Tensor:
        return self.defence.unflagged_logits(x)
