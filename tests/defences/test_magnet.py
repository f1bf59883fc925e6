"""MagNet baseline: score formula by hand, reform-everything rule, training, save/load."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from robustcheck.data import load_dataset
from robustcheck.defences import DEFENCES, FitContext
from robustcheck.errors import ConfigError
from tests.helpers import trained_tiny


class _Half(nn.Module):
    def forward(self, x):
        return x * 0.5


def test_score_by_hand_and_reformer_on_every_input():
    model, x, _ = trained_tiny(n=200, epochs=1)
    xs = torch.zeros(2, 1, 28, 28)
    xs[0, 0, :14] = 1.0  # half the pixels at 1: |x − x/2| = 0.5 there
    for norm, expected in ((1, 0.25), (2, 0.125)):
        d = DEFENCES.get("magnet")(norm=norm).bind(model)
        d.ae = _Half()
        assert d.score(xs).tolist() == pytest.approx([expected, 0.0])
    d.calibrate(x, 0.5)
    with torch.no_grad():
        pred, score = d.predict_and_score(x)
        assert torch.equal(pred, model(x * 0.5).argmax(1))  # reformed whether flagged or not
        assert torch.equal(score, d.score(x))


def test_training_reduces_loss_and_roundtrip(tmp_path):
    model, x, _ = trained_tiny(n=200, epochs=1)
    data = load_dataset("mnist-embedded")
    d = DEFENCES.get("magnet")(noise=0.0).bind(model)
    ctx = FitContext(
        model, data.train.subset(256), data.val, 10, epochs=2, seed=0, device=torch.device("cpu")
    )
    d.fit(ctx)
    d2 = DEFENCES.get("magnet")(noise=0.0).bind(model)
    with torch.no_grad():
        assert d.training_loss(x) < d2.training_loss(x)
    d.calibrate(data.val.x[:200], 0.05)
    torch.save(d.state_dict(), tmp_path / "m.pt")
    d2.load_state_dict(torch.load(tmp_path / "m.pt", weights_only=True))
    with torch.no_grad():
        assert torch.equal(d.score(x), d2.score(x))
    with pytest.raises(ConfigError, match="norm"):
        DEFENCES.get("magnet")(norm=3)
