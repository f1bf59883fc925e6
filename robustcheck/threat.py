"""Threat models: what the attacker queries or differentiates for a case.

- ``grey-box``: the attacker knows the classifier C, not the defence; x′ is crafted on C.
- ``white-box``: the attacker knows everything. Gradient attacks differentiate the defended pipeline
  :meth:`robustcheck.defences.BaseDefence.attack_model` (C∘P end to end; BPDA through ``bpda_surrogate``
  where the defence declares ``differentiable = False``, Athalye et al. 2018), wrapped in :class:`EOT` when
  the defence declares ``stochastic = True``. Detector-aware attacks receive an :class:`AdaptiveTarget`
  that also exposes the differentiable detector score and its threshold.
- ``black-box``: no gradients and no weights. Gradient-free attacks (``gradient_free = True``: ``square``,
  ``square-l2``, ``random-noise``) query :class:`DefendedLogits`: ``forward`` gives the logits of the label
  the defended pipeline outputs (``defence.defended_logits``: its argmax is exactly ``defence.predict``), and
  :meth:`DefendedLogits.query` gives those logits *and* whether the detector flagged the input. A query
  attack succeeds only on an input that is misclassified **and** not flagged: being flagged is a failure
  for the attacker (:func:`robustcheck.attacks.base.query_model`). Gradient attacks under ``black-box``
  are *transfer* attacks: x′ is crafted on a surrogate classifier (``Suite(surrogate=...)``, or the
  reference architecture trained on the suite's data from another seed) and then evaluated on the
  defended pipeline.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from robustcheck.attacks.targets import EOT, AdaptiveTarget
from robustcheck.defences.base import BaseDefence

__all__ = ["EOT", "AdaptiveTarget", "DefendedLogits", "white_box_model"]


def white_box_model(defence: BaseDefence, eot_samples: int = 1) -> nn.Module:
    """The module a white-box gradient attack differentiates: ``attack_model()``, under EOT if stochastic."""
    model = defence.attack_model()
    if getattr(defence, "stochastic", False) and eot_samples > 1:
        return EOT(model, eot_samples)
    return model


class DefendedLogits(nn.Module):
    """Black-box oracle (see module doc): ``forward`` = ``defence.defended_logits`` without gradients;
    :meth:`query` adds the detector's flag. Nothing else about the defence is visible through it.
    """

    def __init__(self, defence: BaseDefence) -> None:
        super().__init__()
        self.training = False  # a wrapper around frozen models; torchattacks restores this flag recursively
        self.defence = defence
        self.clf = defence.classifier  # a submodule so third-party attacks find parameters and a device

    @torch.no_grad()
    def forward(self, x: Tensor) -> Tensor:
        return self.defence.defended_logits(x)

    @torch.no_grad()
    def query(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """(defended logits, flagged) per input: what one black-box query reveals."""
        return self.defence.defended_logits(x), self.defence.flagged(x)
