"""The CIFAR-10 classifiers of Vacanti & Van Looveren (seed 001), appendix A.3.

- ``cifar10-cnn``: the A.2 architecture on 3×32×32 inputs, Adam, 300 epochs (80.24 % in the paper).
- ``cifar10-resnet56``: ResNet-56 of He et al. (2016) for CIFAR: a 3×3 conv with 16 filters, three
  stages of 9 basic blocks (16, 32, 64 filters; stride 2 at the start of stages 2 and 3, 1×1 projection
  shortcuts there), global average pooling, 10 logits. SGD with momentum 0.9, lr 0.01 divided by 10
  after epochs 91, 136 and 182, batch 128, 300 epochs (93.15 % in the paper).

Both standardise each image inside the model (001: "standardised on an image-by-image basis"), so the
model contract — inputs in [0, 1] — holds and attacks see the raw pixel space.
"""

from __future__ import annotations

import math

from torch import Tensor, nn
from torch.nn import functional as F

from robustcheck.models.fashion import two_block_cnn
from robustcheck.models.registry import register_classifier


class PerImageStandardize(nn.Module):
    """(x − mean(x)) / max(std(x), 1/√N) per image (as ``tf.image.per_image_standardization``)."""

    def forward(self, x: Tensor) -> Tensor:
        flat = x.flatten(1)
        mean = flat.mean(1).view(-1, 1, 1, 1)
        std = flat.std(1, unbiased=False).clamp_min(1.0 / math.sqrt(flat.shape[1])).view(-1, 1, 1, 1)
        return (x - mean) / std


class BasicBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(
                nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm2d(c_out)
            )

    def forward(self, x: Tensor) -> Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))  # "before the activation of the last residual block" (001 §4.2)
        return F.relu(out + self.shortcut(x))


class ResNetCIFAR(nn.Module):
    """ResNet-(6n+2) for 32×32 inputs; n = 9 gives ResNet-56."""

    def __init__(self, n: int = 9, num_classes: int = 10) -> None:
        super().__init__()
        self.standardize = PerImageStandardize()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU())
        layers: list[nn.Module] = []
        c_in = 16
        for stage, c_out in enumerate((16, 32, 64)):
            for i in range(n):
                layers.append(BasicBlock(c_in, c_out, 2 if stage > 0 and i == 0 else 1))
                c_in = c_out
        self.blocks = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(64, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(self.pool(self.blocks(self.stem(self.standardize(x)))).flatten(1))


@register_classifier(
    "cifar10-cnn",
    train={"epochs": 300, "batch_size": 128, "lr": 1e-3, "optimizer": "adam"},
    datasets=("cifar10",),
)
def cifar10_cnn() -> nn.Module:
    """Appendix A.3 simple CNN; input 3×32×32 in [0, 1], output 10 logits."""
    return nn.Sequential(PerImageStandardize(), two_block_cnn(3, 32))


@register_classifier(
    "cifar10-resnet56",
    train={
        "epochs": 300,
        "batch_size": 128,
        "lr": 0.01,
        "optimizer": "sgd",
        "momentum": 0.9,
        "milestones": (91, 136, 182),
    },
    datasets=("cifar10",),
)
def cifar10_resnet56() -> nn.Module:
    """Appendix A.3 ResNet-56; input 3×32×32 in [0, 1], output 10 logits."""
    return ResNetCIFAR(n=9)
