"""Threat models: what the attacker queries or differentiates for a case.

- ``grey-box``: the attacker knows the classifier C, not the defence; x′ is crafted on C.
- ``white-box``: the attacker knows everything. Gradient attacks differentiate the defended pipeline
  :meth:`defences.BaseDefence.attack_model` (C∘P end to end; BPDA through ``bpda_surrogate`` where the
  defence declares ``differentiable = False``, Athalye et al. 2018), wrapped in :class:`EOT` when the
  defence declares ``stochastic = True``. Detector-aware attacks receive an :class:`AdaptiveTarget`
  that also exposes the differentiable detector score and its threshold.
- ``black-box``: no gradients and no weights. Gradient-free attacks (``square``, ``square-l2``,
  ``random-noise``) query :class:`DefendedLogits`: for every input the logits of the label the defended
  pipeline outputs (C(P(x)) where P is applied, C(x) otherwise — exactly ``defence.predict``), plus a
  K+1-th "rejected" logit that dominates when the detector flags the input, so a query reveals the
  defended label and whether the input was flagged, nothing else. Gradient attacks under ``black-box``
  are *transfer* attacks: x′ is crafted on a surrogate classifier (same architecture, trained from a
  different seed) and then evaluated on the defended pipeline.
"""

from __future__ import annotations

import warnings

import torch
from torch import Tensor, nn

from defences.base import BaseDefence
from robustcheck.errors import ConfigError

#: Attacks that only query outputs (never gradients); they run on :class:`DefendedLogits` in black-box.
GRADIENT_FREE = frozenset({"square", "square-l2", "random-noise"})
#: Logit margin of the "rejected" column of :class:`DefendedLogits` over the largest class logit.
REJECT_MARGIN = 1e3


def is_gradient_free(name: str, cls: type) -> bool:
    return bool(getattr(cls, "gradient_free", False)) or name in GRADIENT_FREE


class EOT(nn.Module):
    """Expectation over Transformation (Athalye et al. 2018): the mean of ``n`` forward passes.

    Averaging logits averages their input gradients too (the gradient is linear), so a gradient attack
    on ``EOT(m, n)`` follows E[∇ₓ m(x)] estimated from ``n`` samples of the module's randomness.
    """

    def __init__(self, module: nn.Module, samples: int) -> None:
        super().__init__()
        self.training = False  # a wrapper around frozen models; torchattacks restores this flag recursively
        if isinstance(samples, bool) or not isinstance(samples, int) or samples <= 0:
            raise ConfigError(f"EOT samples must be a positive int, got {samples!r}")
        self.module, self.samples = module, samples

    def forward(self, x: Tensor) -> Tensor:
        out = self.module(x)
        for _ in range(self.samples - 1):
            out = out + self.module(x)
        return out / self.samples


def white_box_model(defence: BaseDefence, eot_samples: int = 1) -> nn.Module:
    """The module a white-box gradient attack differentiates: ``attack_model()``, under EOT if stochastic."""
    model = defence.attack_model()
    if getattr(defence, "stochastic", False) and eot_samples > 1:
        return EOT(model, eot_samples)
    return model


class DefendedLogits(nn.Module):
    """Black-box oracle: logits consistent with ``defence.predict`` plus a "rejected" column (see module doc).

    ``forward`` runs without gradients: a black-box attacker only sees outputs.
    """

    def __init__(self, defence: BaseDefence) -> None:
        super().__init__()
        self.training = False  # a wrapper around frozen models; torchattacks restores this flag recursively
        self.defence = defence
        self.clf = defence.classifier  # a submodule so torchattacks finds parameters and a device

    @torch.no_grad()
    def forward(self, x: Tensor) -> Tensor:
        d = self.defence
        logits = self.clf(x)
        flagged = d.flagged(x) if d.is_detector else torch.zeros(x.shape[0], dtype=torch.bool, device=x.device)
        if d.is_purifier:
            purified = self.clf(d.purify(x))
            use_p = flagged if d.is_detector else torch.ones_like(flagged)
            logits = torch.where(use_p.view(-1, 1), purified, logits)
        reject = torch.where(flagged, logits.amax(1) + REJECT_MARGIN, logits.amin(1) - REJECT_MARGIN)
        return torch.cat([logits, reject.view(-1, 1)], 1)


class AdaptiveTarget(nn.Module):
    """What a detector-aware attack gets in white-box: the defence's parts, differentiable.

    ``forward(x)`` returns the logits that decide the label of an *unflagged* input — C(x) for a
    detector (``BaseDefence.predict`` only purifies flagged inputs), C∘P (BPDA/EOT as declared) for a
    pure purifier, C for no defence — so "misclassified and not flagged" is ``forward(x).argmax(1) ≠ y``
    and ``score(x) ≤ threshold``. ``score`` is the defence's differentiable score (EOT-averaged when
    stochastic); ``purify`` is P (identity without a purifier).
    """

    def __init__(self, defence: BaseDefence | None, classifier: nn.Module, eot_samples: int = 1) -> None:
        super().__init__()
        self.training = False  # a wrapper around frozen models; torchattacks restores this flag recursively
        self.defence = defence
        self.classifier = classifier
        self.eot_samples = eot_samples
        self.has_detector = bool(defence is not None and defence.is_detector and defence.threshold is not None)
        self.has_purifier = bool(defence is not None and defence.is_purifier)
        if self.has_detector and not getattr(defence, "differentiable_score", True):
            raise ConfigError(f"defence {defence.name!r} declares differentiable_score = False; detector-aware "
                              f"attacks need a differentiable score(x)")
        if defence is not None and self.has_purifier and not self.has_detector:
            self.label_model: nn.Module = white_box_model(defence, eot_samples)
        else:
            self.label_model = classifier

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
            warnings.warn(f"robustcheck: score of defence {self.defence.name!r} has no gradient", stacklevel=2)
        return s / n

    def purify(self, x: Tensor) -> Tensor:
        if not self.has_purifier or self.defence is None:
            return x
        d = self.defence
        if d.differentiable:
            return d.purify(x)
        from defences.base import straight_through

        return straight_through(d.purify(x).detach(), d.bpda_surrogate(x))
