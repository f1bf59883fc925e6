"""Train DigitsCNN on the train split and write the committed state dict (``artifacts/digits_cnn.pt``).

Deterministic: one thread, seeded generators, deterministic algorithms; the same torch version on the
same kind of CPU writes the same bytes (the script prints their SHA-256). Run from anywhere:

    python train.py            # trains, prints the normalisation constants and test accuracy, saves
    python train.py --out /tmp/model.pt
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

import torch
from data import DigitsDataset
from model import MEAN, MODEL_FILE, STD, DigitsCNN, normalise
from torch import nn

SEED = 0
EPOCHS = 40
BATCH = 32
LR = 3e-3


def stacked(split: str) -> tuple[torch.Tensor, torch.Tensor]:
    ds = DigitsDataset(split)
    return ds.images, ds.labels


@torch.no_grad()
def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    return float((model(normalise(x)).argmax(1) == y).float().mean())


def train() -> DigitsCNN:
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    torch.manual_seed(SEED)
    gen = torch.Generator().manual_seed(SEED)
    x, y = stacked("train")
    model = DigitsCNN()
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    for _ in range(EPOCHS):
        model.train()
        for idx in torch.randperm(len(y), generator=gen).split(BATCH):
            opt.zero_grad()
            nn.functional.cross_entropy(model(normalise(x[idx])), y[idx]).backward()
            opt.step()
    return model.eval()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=MODEL_FILE, help=f"where to write (default {MODEL_FILE})")
    args = parser.parse_args()
    xtr, _ = stacked("train")
    print(f"train pixels: mean {xtr.mean():.4f}, std {xtr.std():.4f} (model.py: MEAN={MEAN}, STD={STD})")
    model = train()
    for split in ("train", "val", "test"):
        print(f"{split} accuracy: {accuracy(model, *stacked(split)):.4f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), args.out)
    digest = hashlib.sha256(args.out.read_bytes()).hexdigest()
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes, sha256 {digest})")


if __name__ == "__main__":
    main()
