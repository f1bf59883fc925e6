"""Splits of a dataset: tensors in [0, 1], deterministic stratified splitting, content hashing."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Protocol

import torch
from torch import Tensor

from robustcheck.errors import ConfigError


@dataclass(frozen=True)
class Split:
    x: Tensor  # float32 in [0, 1], N×C×H×W (may be backed by a memory-mapped file)
    y: Tensor  # int64 labels

    def __len__(self) -> int:
        return int(self.y.shape[0])

    def subset(self, n: int | None) -> Split:
        return self if n is None or n >= len(self) else Split(self.x[:n], self.y[:n])


@dataclass(frozen=True)
class DatasetSplits:
    """A dataset as robustcheck uses it: three splits, the number of classes and a content hash.

    ``name`` identifies where the data came from (a registered name, ``folder:<path>``, a callable's
    qualified name, ``tensors``, a Dataset class); ``content_hash`` covers every image and label of every
    split, and the split itself, so it changes with the data actually used."""

    name: str
    train: Split
    val: Split
    test: Split
    num_classes: int
    content_hash: str  # identifies the data and the split

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.train.x.shape[1:])


#: default fractions (train, val, test) when the user gives one unsplit set
DEFAULT_FRACTIONS = (0.7, 0.1, 0.2)
#: the fraction of a given training set split off as validation when the user gives no validation set
VAL_FRACTION = 0.1


def stratified_split(
    y: Tensor, fractions: tuple[float, float, float], seed: int
) -> tuple[Tensor, Tensor, Tensor]:
    """Deterministic stratified split of indices into (train, val, test) with the given fractions."""
    if abs(sum(fractions) - 1.0) > 1e-9 or min(fractions) < 0:
        raise ConfigError(f"split fractions must be >= 0 and sum to 1, got {fractions}")
    g = torch.Generator().manual_seed(seed)
    parts: list[list[Tensor]] = [[], [], []]
    for c in torch.unique(y).tolist():
        idx = torch.nonzero(y == c).view(-1)
        idx = idx[torch.randperm(idx.numel(), generator=g)]
        n = idx.numel()
        n_train = round(fractions[0] * n)
        n_val = round(fractions[1] * n)
        parts[0].append(idx[:n_train])
        parts[1].append(idx[n_train : n_train + n_val])
        parts[2].append(idx[n_train + n_val :])
    out = []
    for p in parts:
        cat = torch.cat(p) if p else torch.empty(0, dtype=torch.long)
        # interleave classes: a fixed permutation so any prefix is roughly balanced
        out.append(cat[torch.randperm(cat.numel(), generator=g)])
    return out[0], out[1], out[2]


def hash_parts(*parts: object) -> str:
    """sha256 (16 hex digits) of tensors (dtype, shape and bytes) and reprs of everything else."""
    h = hashlib.sha256()
    for p in parts:
        if isinstance(p, Tensor):
            update_with_tensor(h, p)
        else:
            h.update(repr(p).encode())
    return h.hexdigest()[:16]


class _Hash(Protocol):
    """What :func:`update_with_tensor` needs of a hashlib hash."""

    def update(self, data: bytes | memoryview, /) -> None: ...


def update_with_tensor(h: _Hash, t: Tensor) -> None:
    t = t.detach().cpu().contiguous()
    h.update(f"{t.dtype}{tuple(t.shape)}".encode())
    h.update(t.reshape(-1).view(torch.uint8).numpy().data)  # the array's buffer: no copy
