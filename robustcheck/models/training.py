"""Seeded training loop for classifiers."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from robustcheck.data import Split
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
) -> nn.Module:
    """Train ``model`` with Adam and cross-entropy on ``train``; deterministic for a given seed."""
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    model.to(device).train()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    x_all, y_all = train.x, train.y
    for _ in progress(range(epochs), desc=f"train {desc}", unit="epoch"):
        for idx in seeded_batches(len(train), batch_size, g):
            xb, yb = x_all[idx].to(device), y_all[idx].to(device)
            opt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(xb), yb)
            loss.backward()
            opt.step()
    model.eval()
    return model
