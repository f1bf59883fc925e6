"""Max-pooling that gives ``nn.MaxPool2d``'s numbers faster on the CPU.

On the project's CPU (torch 2.14, 2 threads), ``max_pool2d`` on a contiguous (NCHW) tensor of 64 × 64 ×
28 × 28 takes 6.0 ms forward. The same op on the channels-last layout takes 0.3 ms. In the white-box
attacks of the default suite it was 22 % of a PGD-40 case's time (cProfile: 4.4 s of 19.7 s in
``torch.max_pool2d``). The channels-last kernel's *backward* is slower than the NCHW one, though.
:class:`MaxPool2d` therefore takes the forward pass in the channels-last layout and the backward pass in
NCHW, from the same argmax indices.

- Outputs and input gradients are bit-identical to ``nn.MaxPool2d``: max is exact, and both kernels pick
  one argmax per window. Ties can only differ between tied values, which carry the same value.
  ``tests/models/test_pooling.py`` checks this.
- Per pass at batch 64: forward 6.0 → 1.9 ms, forward + backward 8.0 → 4.1 ms
  (``python benchmarks/pooling.py``).
- The gain shrinks as the tensor grows; beyond ``FAST_MAX_ELEMENTS`` the channels-last copy is slower.
  Forward + backward of (B, 64, 28, 28): B = 128 (6.4M elements, the training batch) 15.2 → 7.4 ms,
  B = 192 28.2 → 21.0 ms, B = 256 44.0 → 44.6 ms, B = 500 forward 59 → 66 ms. Above the cap the plain op
  runs, as it does on CUDA and for any setting other than a square window with stride = kernel and no
  padding.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

#: largest input (elements) that takes the channels-last forward (batch 128 of 64×28×28 is 6.4M)
FAST_MAX_ELEMENTS = 8_000_000


class _ChannelsLastMaxPool(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: Tensor, k: int) -> Tensor:
        out, idx = F.max_pool2d(x.contiguous(memory_format=torch.channels_last), k, return_indices=True)
        out, idx = out.contiguous(), idx.contiguous()
        ctx.save_for_backward(x, idx)
        ctx.k = k
        return out

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None]:
        x, idx = ctx.saved_tensors
        k = ctx.k
        dx = torch.ops.aten.max_pool2d_with_indices_backward(
            grad.contiguous(), x, [k, k], [k, k], [0, 0], [1, 1], False, idx
        )
        return dx, None


class MaxPool2d(nn.MaxPool2d):
    """``nn.MaxPool2d`` with the same numbers, faster on the CPU (module doc)."""

    def forward(self, x: Tensor) -> Tensor:
        k = self.kernel_size
        if (
            x.device.type == "cpu"
            and x.dim() == 4
            and x.numel() <= FAST_MAX_ELEMENTS
            and isinstance(k, int)
            and self.stride == k
            and self.padding == 0
            and self.dilation == 1
            and not self.ceil_mode
            and not self.return_indices
        ):
            return _ChannelsLastMaxPool.apply(x, k)
        return super().forward(x)
