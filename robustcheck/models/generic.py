"""A small CNN sized from the data: the reference classifier (and black-box surrogate) for data of a shape
no paper classifier takes (e.g. scikit-learn's 8×8 digits, a team's 3×64×48 images).

Two 3×3 convolutions (32 and 64 channels, padding 1, ReLU), adaptive average pooling to at most 4×4,
dense 128 + ReLU + 30 % dropout, ``num_classes`` logits. Trained with Adam, lr 1e-3, batch 128.
"""

from __future__ import annotations

from torch import nn

from robustcheck.errors import ConfigError
from robustcheck.models.registry import register_classifier


@register_classifier(
    "shape-cnn",
    train={"epochs": 20, "batch_size": 128, "lr": 1e-3, "optimizer": "adam"},
    datasets=(),
    sized=True,
)
def shape_cnn(input_shape: tuple[int, ...], num_classes: int) -> nn.Module:
    if len(input_shape) != 3 or min(input_shape) < 1:
        raise ConfigError(f"classifier 'shape-cnn' takes C×H×W images; got input shape {tuple(input_shape)}.")
    c, h, w = input_shape
    ph, pw = min(h, 4), min(w, 4)
    return nn.Sequential(
        nn.Conv2d(c, 32, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(32, 64, 3, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d((ph, pw)),
        nn.Flatten(),
        nn.Linear(64 * ph * pw, 128),
        nn.ReLU(),
        nn.Dropout(0.3),
        nn.Linear(128, num_classes),
    )
