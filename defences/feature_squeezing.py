"""Feature squeezing (Xu et al. 2018; the classic detector of the 004 survey): ``feature-squeezing``.

Squeezers: bit-depth reduction to ``bits`` bits, x ↦ round(x·(2^bits − 1)) / (2^bits − 1), and a
k×k median filter (``median_size``; for even k the window covers rows/columns i … i+k−1 around the
pixel's top-left, padded by reflection, and the median is the lower middle value, as
``torch.median``). Score: S(x) = max over squeezers s of ‖softmax(C(x)) − softmax(C(s(x)))‖₁;
higher = more adversarial, thresholded by the engine at the suite's FPR on clean validation data.
MNIST defaults of the paper: 1-bit depth and a 2×2 median filter.

Detector only, nothing to train: the defended label is C(x). White-box: :meth:`attack_model` is C
(the base-class default for detectors). Detector-aware attacks differentiate ``score``: the bit-depth
squeezer's ``round`` goes through BPDA with the identity (straight-through, :func:`reduce_bit_depth`);
the median filter is differentiable almost everywhere (the gradient flows to the selected pixel).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor
from torch.nn import functional as F

from robustcheck.defences.base import BaseDefence
from robustcheck.defences.registry import DEFENCES
from robustcheck.errors import ConfigError


def reduce_bit_depth(x: Tensor, bits: int) -> Tensor:
    """Quantise [0, 1] values to 2^bits levels; BPDA: the backward pass is the identity.

    ``round`` has a zero gradient almost everywhere, which would mask the score's gradient from a
    detector-aware attacker. The declared surrogate is the identity (straight-through estimator):
    ``q + (x − x.detach())`` has exactly the value q (adding an exact zero) and the gradient of x.
    """
    levels = 2**bits - 1
    q = torch.round(x * levels) / levels
    if not x.requires_grad:
        return q
    return q.detach() + (x - x.detach())


def median_filter(x: Tensor, size: int) -> Tensor:
    """k×k median filter per channel with reflection padding (lower median for even k)."""
    if size == 1:
        return x
    before, after = (size - 1) // 2, size // 2
    xp = F.pad(x, (before, after, before, after), mode="reflect")
    patches = xp.unfold(2, size, 1).unfold(3, size, 1)  # B, C, H, W, k, k
    return patches.flatten(-2).median(dim=-1).values


@DEFENCES.register("feature-squeezing")
class FeatureSqueezing(BaseDefence):
    """``feature-squeezing``: max L1 distance between softmax outputs on x and on squeezed x."""

    name = "feature-squeezing"
    is_detector = True
    is_purifier = False
    trainable = False

    def __init__(self, *, bits: int | None = 1, median_size: int | None = 2) -> None:
        super().__init__()
        if bits is not None and (isinstance(bits, bool) or not isinstance(bits, int) or not 1 <= bits <= 16):
            raise ConfigError(f"defence {self.name!r}: bits must be an int in 1..16 or None, got {bits!r}")
        if median_size is not None and (
            isinstance(median_size, bool) or not isinstance(median_size, int) or median_size < 2
        ):
            raise ConfigError(
                f"defence {self.name!r}: median_size must be an int >= 2 or None, got {median_size!r}"
            )
        if bits is None and median_size is None:
            raise ConfigError(f"defence {self.name!r}: needs at least one squeezer (bits or median_size)")
        self.bits, self.median_size = bits, median_size

    def config(self) -> dict[str, Any]:
        return {"bits": self.bits, "median_size": self.median_size}

    def squeezed(self, x: Tensor) -> list[Tensor]:
        out = []
        if self.bits is not None:
            out.append(reduce_bit_depth(x, self.bits))
        if self.median_size is not None:
            out.append(median_filter(x, self.median_size))
        return out

    def score(self, x: Tensor) -> Tensor:
        p = torch.softmax(self.classifier(x), 1)
        dists = [(p - torch.softmax(self.classifier(s), 1)).abs().sum(1) for s in self.squeezed(x)]
        return torch.stack(dists).amax(0)

    def predict_and_score(self, x: Tensor) -> tuple[Tensor, Tensor]:
        logits = self.classifier(x)
        p = torch.softmax(logits, 1)
        dists = [(p - torch.softmax(self.classifier(s), 1)).abs().sum(1) for s in self.squeezed(x)]
        return logits.argmax(1), torch.stack(dists).amax(0)
