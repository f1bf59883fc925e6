"""robustcheck.models.pooling.MaxPool2d gives nn.MaxPool2d's outputs and input gradients bit for bit."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from robustcheck.models import pooling
from robustcheck.models.mnist import mnist_cnn
from robustcheck.models.pooling import MaxPool2d


def _outputs_and_grad(pool: nn.Module, x: torch.Tensor, weight: torch.Tensor):
    x = x.detach().clone().requires_grad_(True)
    out = pool(x)
    (out * weight).sum().backward()
    return out.detach(), x.grad


@pytest.mark.parametrize(
    "shape",
    [(64, 64, 28, 28), (3, 5, 7, 9), (1, 1, 2, 2), (200, 64, 28, 28)],  # odd sizes; the last is above the cap
)
def test_same_numbers_as_nn_maxpool(shape):
    g = torch.Generator().manual_seed(0)
    x = torch.relu(torch.randn(shape, generator=g))  # ReLU output: many tied zeros, as in the classifiers
    x[0, 0, :2, :2] = 0.5  # a window of positive ties
    weight = torch.randn(nn.MaxPool2d(2)(x).shape, generator=g)
    ref = _outputs_and_grad(nn.MaxPool2d(2), x, weight)
    fast = _outputs_and_grad(MaxPool2d(2), x, weight)
    assert torch.equal(ref[0], fast[0]) and torch.equal(ref[1], fast[1])


def test_fast_path_is_taken_below_the_cap(monkeypatch):
    calls = []
    original = pooling._ChannelsLastMaxPool.apply
    monkeypatch.setattr(pooling._ChannelsLastMaxPool, "apply", lambda *a: calls.append(1) or original(*a))
    MaxPool2d(2)(torch.rand(2, 3, 8, 8))
    MaxPool2d(2)(torch.rand(1, 1, 3000, 3000))  # above FAST_MAX_ELEMENTS: the plain op
    MaxPool2d(2, stride=1)(torch.rand(2, 3, 8, 8))  # another setting: the plain op
    assert calls == [1]


def test_classifier_gives_the_same_logits_and_gradients_as_with_nn_maxpool():
    torch.manual_seed(0)
    fast = mnist_cnn().eval()
    plain = mnist_cnn().eval()
    plain.load_state_dict(fast.state_dict())
    for i, m in enumerate(plain):
        if isinstance(m, nn.MaxPool2d):
            plain[i] = nn.MaxPool2d(2)
    assert any(type(m) is MaxPool2d for m in fast) and not any(type(m) is MaxPool2d for m in plain)
    x = torch.rand(64, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    y = torch.arange(64) % 10
    outs = []
    for model in (plain, fast):
        xg = x.clone().requires_grad_(True)
        logits = model(xg)
        (grad,) = torch.autograd.grad(nn.functional.cross_entropy(logits, y), xg)
        outs.append((logits.detach(), grad))
    assert torch.equal(outs[0][0], outs[1][0]) and torch.equal(outs[0][1], outs[1][1])
