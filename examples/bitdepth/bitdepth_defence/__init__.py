"""A third-party defence written against robustcheck's extension API: bit-depth reduction.

Purification P(x) = round(x · (2^b − 1)) / (2^b − 1) (Xu et al. 2018's squeezer, used as an input
transformation). Rounding has zero gradient almost everywhere, so the defence declares
``differentiable = False``: white-box attacks then use BPDA with ``bpda_surrogate`` — here the
identity, the standard choice for quantisation (Athalye et al. 2018).
"""

from __future__ import annotations

from typing import Any

from torch import Tensor

from robustcheck import BaseDefence, ConfigError, register_defence


@register_defence("bitdepth")
class BitDepthPurifier(BaseDefence):
    name = "bitdepth"
    is_purifier = True
    differentiable = False  # rounding: white-box attacks go through BPDA

    def __init__(self, *, bits: int = 2) -> None:
        super().__init__()
        if not isinstance(bits, int) or not 1 <= bits <= 8:
            raise ConfigError(f"defence 'bitdepth': bits must be an int in 1..8, got {bits!r}")
        self.bits = bits

    def config(self) -> dict[str, Any]:
        return {"bits": self.bits}

    def purify(self, x: Tensor) -> Tensor:
        levels = 2**self.bits - 1
        return (x * levels).round() / levels

    def bpda_surrogate(self, x: Tensor) -> Tensor:
        return x  # identity BPDA (the default, written out for the example)
