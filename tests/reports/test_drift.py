"""Corruptions keep shape and range and grow with severity; drift statistics against scipy by hand."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from scipy.stats import ks_2samp
from torch.nn import functional as F

from robustcheck.corruptions import CORRUPTIONS, corrupt
from robustcheck.data import load_dataset
from robustcheck.drift import drift_report, harm_statistics
from robustcheck.errors import ConfigError
from tests.helpers import trained_tiny


@pytest.fixture(scope="module")
def images():
    digits = load_dataset("mnist-embedded").test.x[:64]
    g = torch.Generator().manual_seed(0)
    colour = F.interpolate(torch.rand(8, 3, 8, 8, generator=g), size=(32, 30), mode="bilinear")  # any C, H, W
    return digits, colour


@pytest.mark.parametrize("name", CORRUPTIONS)
def test_corruption_shape_range_monotone_seeded(name, images):
    for x in images:
        strength = []
        for sev in range(1, 6):
            xc = corrupt(x, name, sev, seed=3)
            assert xc.shape == x.shape and xc.dtype == x.dtype
            assert xc.min() >= 0 and xc.max() <= 1
            strength.append(float((xc - x).abs().mean()))
        assert all(a < b for a, b in itertools.pairwise(strength)), (name, strength)
        assert strength[0] > 0
        assert torch.equal(corrupt(x, name, 3, seed=3), corrupt(x, name, 3, seed=3))


def test_corruption_errors():
    x = torch.rand(2, 1, 8, 8)
    with pytest.raises(ConfigError, match="unknown corruption"):
        corrupt(x, "fog", 1)
    with pytest.raises(ConfigError, match="severity"):
        corrupt(x, "jpeg", 6)
    with pytest.raises(ConfigError, match=r"\[0, 1\]"):
        corrupt(x * 2, "jpeg", 1)


def test_harm_statistics_against_scipy():
    score = np.array([0.9, 1.2, 3.0, 0.1, 0.2, 0.3, 0.25, 0.15, 5.0, 0.05])
    harmful = np.array([1, 1, 1, 0, 0, 0, 0, 0, 1, 0], dtype=bool)
    not_harmful = np.array([0, 0, 0, 1, 1, 1, 1, 1, 0, 0], dtype=bool)  # the last one is neither
    mh, mnh, ratio, p = harm_statistics(torch.tensor(score), torch.tensor(harmful), torch.tensor(not_harmful))
    assert mh == pytest.approx((0.9 + 1.2 + 3.0 + 5.0) / 4)
    assert mnh == pytest.approx((0.1 + 0.2 + 0.3 + 0.25 + 0.15) / 5)
    assert ratio == pytest.approx(2.525 / 0.2)
    assert p == pytest.approx(ks_2samp(score[harmful], score[not_harmful]).pvalue)
    # fully separated samples of sizes 4 and 5: exact two-sided p = 2 / C(9, 4) = 2 / 126
    assert p == pytest.approx(2 / math.comb(9, 4))
    mh, mnh, ratio, p = harm_statistics(score, np.zeros(10, bool), not_harmful)
    assert math.isnan(ratio) and math.isnan(p) and math.isnan(mh)


def test_drift_report_rows_are_consistent():
    model, x, y = trained_tiny(n=200, epochs=1)

    def score(b):
        return (b - b.mean()).abs().flatten(1).mean(1)

    rows = drift_report(model, score, x, y, corruptions=["gaussian_noise", "contrast"], severities=[1, 5])
    assert [(r.corruption, r.severity) for r in rows] == [
        ("gaussian_noise", 1),
        ("gaussian_noise", 5),
        ("contrast", 1),
        ("contrast", 5),
    ]
    xc = corrupt(x, "contrast", 5, seed=0)
    with torch.no_grad():
        pred, pred0 = model(xc).argmax(1), model(x).argmax(1)
    r = rows[3]
    assert r.accuracy == pytest.approx(float((pred == y).float().mean()))
    assert r.n_harmful == int(((pred0 == y) & (pred != y)).sum())
    assert r.n_not_harmful == int((pred == pred0).sum())
