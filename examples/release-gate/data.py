"""The team's data: scikit-learn's 1,797 real 8×8 handwritten digits, with a fixed split.

``DigitsDataset(split)`` is an ordinary map-style ``torch.utils.data.Dataset`` of (image, label):
images are 1×8×8 float tensors in [0, 1] (pixel values 0–16 divided by 16, *not* normalised: the
model's normalisation is part of the model, see ``model.py``), labels are ints 0–9.

The split is fixed and needs no random numbers: within each class, in the dataset's order, images
0–1 of every 10 go to ``test``, image 2 to ``val`` and the other 7 to ``train`` (70/10/20). It must
never change, because the committed model file was trained on ``train`` alone (``train.py``); it is
not tied to the suite's seed.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.datasets import load_digits
from torch.utils.data import Dataset

SPLITS = ("train", "val", "test")


def _split_of(position: int) -> str:
    r = position % 10
    return "test" if r < 2 else "val" if r == 2 else "train"


class DigitsDataset(Dataset):
    """One split of scikit-learn's 8×8 digits as (1×8×8 float image in [0, 1], int label)."""

    def __init__(self, split: str) -> None:
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        bunch = load_digits()
        images = np.asarray(bunch.images, dtype=np.float32) / 16.0
        labels = np.asarray(bunch.target, dtype=np.int64)
        keep = np.sort(
            np.asarray(
                [
                    i
                    for c in range(10)
                    for pos, i in enumerate(np.flatnonzero(labels == c))
                    if _split_of(pos) == split
                ]
            )
        )
        self.indices = keep  # positions in scikit-learn's order
        self.images = torch.from_numpy(images[keep]).unsqueeze(1)
        self.labels = torch.from_numpy(labels[keep])
        self.split = split

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return self.images[i], int(self.labels[i])


def digits_splits() -> dict[str, Dataset]:
    """The three splits, in the form ``robustcheck.Suite(dataset=...)`` takes (a callable returning a
    mapping of split name to Dataset), so the data is read only when the suite runs."""
    return {s: DigitsDataset(s) for s in SPLITS}
