"""The Fashion-MNIST classifier of Vacanti & Van Looveren (seed 001), appendix A.2.

Two blocks of two conv layers (2×2 filters, ReLU, 'same' zero padding), each block followed by 2×2
max-pooling and 30 % dropout; 64 filters in the first block, 32 in the second; flatten; dense 256 +
ReLU + 50 % dropout; 10 logits. Adam, batch 128, 40 epochs; 93.62 % test accuracy in the paper.
"""

from __future__ import annotations

from torch import nn

from robustcheck.models.pooling import MaxPool2d
from robustcheck.models.registry import register_classifier


def _same_conv(c_in: int, c_out: int) -> list[nn.Module]:
    # Keras-style 'same' padding for an even (2×2) kernel pads one pixel right and bottom
    return [nn.ZeroPad2d((0, 1, 0, 1)), nn.Conv2d(c_in, c_out, kernel_size=2), nn.ReLU()]


def two_block_cnn(in_channels: int, size: int, num_classes: int = 10) -> nn.Sequential:
    """The A.2 architecture for ``in_channels``×``size``×``size`` inputs (also the simple CIFAR-10 CNN of
    A.3)."""
    return nn.Sequential(
        *_same_conv(in_channels, 64),
        *_same_conv(64, 64),
        MaxPool2d(2),  # nn.MaxPool2d, faster on the CPU (robustcheck.models.pooling)
        nn.Dropout(0.3),
        *_same_conv(64, 32),
        *_same_conv(32, 32),
        MaxPool2d(2),  # nn.MaxPool2d, faster on the CPU (robustcheck.models.pooling)
        nn.Dropout(0.3),
        nn.Flatten(),
        nn.Linear(32 * (size // 4) ** 2, 256),
        nn.ReLU(),
        nn.Dropout(0.5),
        nn.Linear(256, num_classes),
    )


@register_classifier(
    "fashion-mnist-cnn",
    train={"epochs": 40, "batch_size": 128, "lr": 1e-3, "optimizer": "adam"},
    datasets=("fashion-mnist", "mnist", "mnist-embedded"),
)
def fashion_mnist_cnn() -> nn.Module:
    """Appendix A.2 classifier; input 1×28×28 in [0, 1], output 10 logits."""
    return two_block_cnn(1, 28)
