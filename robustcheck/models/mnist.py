"""The MNIST classifier of Vacanti & Van Looveren (seed 001), appendix A.1.

Two conv layers (64 and 32 filters of 2×2, ReLU), each followed by 2×2 max-pooling and 30 % dropout;
flatten; dense 256 + ReLU + 50 % dropout; 10 logits (the softmax lives in the metrics/defences).
Trained with Adam, lr 1e-3, batch 128, 20 epochs; the paper reports 99.28 % on the full MNIST test set.
"""

from __future__ import annotations

from torch import nn

from robustcheck.models.pooling import MaxPool2d
from robustcheck.models.registry import register_classifier


@register_classifier(
    "mnist-cnn",
    train={"epochs": 20, "batch_size": 128, "lr": 1e-3, "optimizer": "adam"},
    datasets=("mnist-embedded", "mnist", "fashion-mnist"),
)
def mnist_cnn() -> nn.Module:
    """Appendix A.1 classifier; input 1×28×28 in [0, 1], output 10 logits."""
    return nn.Sequential(
        nn.ZeroPad2d((0, 1, 0, 1)),  # Keras-style 'same' padding for an even kernel
        nn.Conv2d(1, 64, kernel_size=2),
        nn.ReLU(),
        MaxPool2d(2),  # nn.MaxPool2d, faster on the CPU (robustcheck.models.pooling)
        nn.Dropout(0.3),
        nn.ZeroPad2d((0, 1, 0, 1)),
        nn.Conv2d(64, 32, kernel_size=2),
        nn.ReLU(),
        MaxPool2d(2),  # nn.MaxPool2d, faster on the CPU (robustcheck.models.pooling)
        nn.Dropout(0.3),
        nn.Flatten(),
        nn.Linear(32 * 7 * 7, 256),
        nn.ReLU(),
        nn.Dropout(0.5),
        nn.Linear(256, 10),
    )
