"""Seeded training loop for classifiers."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from robustcheck.data import Split
from robustcheck.errors import ConfigError
from robustcheck.progress import progress


def seeded_batches(n: int, batch_size: int, generator: torch.Generator) -> list[torch.Tensor]:
    perm = torch.randperm(n, generator=generator)
    return list(perm.split(batch_size))


def train_classifier(
    model: nn.Module,
    train: Split,
    *,
    epochs: int,
    batch_size: int = 128,
    lr: float = 1e-3,
    seed: int = 0,
    device: torch.device | str = "cpu",
    desc: str = "classifier",
    optimizer: str = "adam",
    momentum: float = 0.9,
    milestones: tuple[int, ...] = (),
) -> nn.Module:
    """Train ``model`` with cross-entropy on ``train``; deterministic for a given seed.

    ``optimizer`` is ``"adam"`` (default) or ``"sgd"`` (with ``momentum``); the learning rate is divided
    by 10 at each epoch of ``milestones`` (ResNet-56 of 001 A.3: SGD 0.9, lr 0.01, /10 at 91, 136, 182).
    """
    if optimizer not in ("adam", "sgd"):
        raise ConfigError(f"classifier optimizer must be 'adam' or 'sgd', got {optimizer!r}")
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    model.to(device).train()
    if optimizer == "adam":
        opt: torch.optim.Optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    else:
        opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=list(milestones), gamma=0.1)
    x_all, y_all = train.x, train.y
    for _ in progress(range(epochs), desc=f"train {desc}", unit="epoch"):
        for idx in seeded_batches(len(train), batch_size, g):
            xb, yb = x_all[idx].to(device), y_all[idx].to(device)
            opt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(xb), yb)
            loss.backward()
            opt.step()
        sched.step()
    model.eval()
    return model
