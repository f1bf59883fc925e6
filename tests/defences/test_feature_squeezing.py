"""Feature squeezing on constructed images, and the random-noise attack."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.ndimage import median_filter as scipy_median
from torch import nn

from robustcheck.attacks import build_attack
from robustcheck.defences import DEFENCES
from robustcheck.defences.feature_squeezing import median_filter, reduce_bit_depth
from robustcheck.errors import ConfigError


def test_bit_depth_reduction_on_constructed_values():
    x = torch.tensor([0.0, 0.2, 0.49, 0.51, 0.8, 1.0]).view(1, 1, 2, 3)
    assert reduce_bit_depth(x, 1).view(-1).tolist() == [0, 0, 0, 1, 1, 1]
    assert reduce_bit_depth(x, 2).view(-1).tolist() == pytest.approx([0, 1 / 3, 1 / 3, 2 / 3, 2 / 3, 1])


def test_median_filter_removes_salt_and_matches_scipy():
    img = torch.zeros(1, 1, 6, 6)
    img[0, 0, 2, 3] = 1.0  # isolated salt pixel
    assert median_filter(img, 2).abs().max() == 0 and median_filter(img, 3).abs().max() == 0
    g = torch.Generator().manual_seed(0)
    x = torch.rand(2, 1, 9, 9, generator=g)
    ref = scipy_median(x.numpy(), size=(1, 1, 3, 3), mode="mirror")
    assert np.allclose(median_filter(x, 3).numpy(), ref)
    # 2×2: window rows/cols i..i+1, lower median of 4 values
    y = torch.tensor([[1.0, 2.0], [3.0, 4.0]]).view(1, 1, 2, 2)
    assert median_filter(y, 2)[0, 0, 0, 0].item() == 2.0


class _Lookup(nn.Module):
    """Logit 10·(mean pixel) for class 1 and 0 for class 0: sensitive to squeezing grey values."""

    def forward(self, x):
        m = x.flatten(1).mean(1)
        return torch.stack([torch.zeros_like(m), 10 * m], 1)


def test_score_is_max_l1_distance_over_squeezers():
    d = DEFENCES.get("feature-squeezing")().bind(_Lookup())
    x = torch.full((1, 1, 4, 4), 0.3)  # bit depth → 0; the median keeps 0.3
    p = torch.softmax(torch.tensor([0.0, 3.0]), 0)
    q = torch.softmax(torch.tensor([0.0, 0.0]), 0)
    assert d.score(x).item() == pytest.approx((p - q).abs().sum().item(), rel=1e-5)
    binary = torch.zeros(1, 1, 4, 4)
    binary[..., :2, :] = 1.0  # unchanged by 1-bit depth; 2×2 median moves one row of the edge
    only_bits = DEFENCES.get("feature-squeezing")(median_size=None).bind(_Lookup())
    assert only_bits.score(binary).item() == 0.0
    pred, s = d.predict_and_score(x)
    assert torch.equal(s, d.score(x)) and pred.tolist() == [1]
    assert not d.is_purifier and d.is_detector and d.attack_model() is d.classifier


def test_feature_squeezing_bad_parameters():
    with pytest.raises(ConfigError, match="bits"):
        DEFENCES.get("feature-squeezing")(bits=0)
    with pytest.raises(ConfigError, match="at least one"):
        DEFENCES.get("feature-squeezing")(bits=None, median_size=None)


def test_random_noise_fills_the_box_and_is_seeded():
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))
    x = torch.full((50, 1, 28, 28), 0.5)
    y = torch.zeros(50, dtype=torch.long)
    [r] = build_attack("random-noise", {}, seed=3)(model, x, y, [0.2])
    delta = r.x_adv - x
    assert delta.abs().max() <= 0.2 + 1e-6 and delta.abs().max() > 0.19
    assert abs(delta.mean().item()) < 0.01 and delta.std().item() == pytest.approx(0.2 / 3**0.5, rel=0.02)
    [again] = build_attack("random-noise", {}, seed=3)(model, x, y, [0.2])
    assert torch.equal(again.x_adv, r.x_adv)
    with pytest.raises(ConfigError, match="no targeted variant"):
        build_attack("random-noise", {"targeted": True}, seed=0)
