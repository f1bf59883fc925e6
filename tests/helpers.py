"""Tiny models and data shared by the tests."""

from __future__ import annotations

import torch
from torch import nn


def tiny_cnn(num_classes: int = 10) -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, stride=2, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 14 * 14, num_classes)
    )


def trained_tiny(n: int = 600, epochs: int = 3, seed: int = 0) -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    """A tiny CNN trained on the first ``n`` embedded-MNIST training digits; returns (model, x_test, y_test)."""
    from robustcheck.data import load_dataset
    from robustcheck.models import train_classifier
    from robustcheck.models.contract import frozen_eval

    data = load_dataset("mnist-embedded")
    torch.manual_seed(seed)
    model = tiny_cnn()
    train_classifier(model, data.train.subset(n), epochs=epochs, seed=seed)
    return frozen_eval(model), data.test.x[:100], data.test.y[:100]


def evaluate_suite(cache_dir, suite):
    """Evaluate every case of ``suite`` on a CPU engine at scale smoke with its disk cache in ``cache_dir``:
    ``(engine, suite, {case id: (case, result)}, cache_dir)``, the shape the engine tests share."""
    from robustcheck.engine import Engine

    engine = Engine(device="cpu", scale="smoke", cache_dir=str(cache_dir))
    return engine, suite, {c.id: (c, engine.evaluate(c)) for c in suite.cases()}, cache_dir
