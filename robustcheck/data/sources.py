"""The user's data in any form ``Suite(dataset=...)`` accepts, turned into :class:`DatasetSplits`.

Accepted forms (:func:`resolve_dataset`):

- a registered name (``"mnist-embedded"``, ``"digits-8x8"``, ``"mnist"``, … or one registered with
  :func:`robustcheck.register_dataset`);
- a path (``str`` or ``pathlib.Path``) to a folder in the ``torchvision.datasets.ImageFolder`` layout
  (one sub-folder per class, class index = sorted folder name);
- tensors or numpy arrays ``(x, y)``: ``x`` N×C×H×W (or N×H×W) float in [0, 1] or uint8, ``y`` integer
  labels;
- a mapping with keys among ``train``, ``val`` (or ``validation``) and ``test``, each ``(x, y)`` or a
  Dataset;
- a map-style ``torch.utils.data.Dataset`` of (image, label), images as C×H×W tensors, H×W×C or H×W
  numpy arrays, or PIL images;
- a callable (no required arguments; it may declare ``seed``, ``root``, ``download``) returning any of
  the above, or :class:`DatasetSplits`.

Splits the user does not give are derived deterministically and stratified by class from the training
pool: one unsplit set → 70/10/20 (train/val/test); train and test → 10 % of train becomes validation;
train and val → 20 % of train becomes test. The number of classes is the largest label + 1 and the input
shape is the images'. The content hash covers every image and label of every split.

A Dataset is read one item at a time; when its images would take more than :data:`IN_MEMORY_BYTES`
they are written, in split order, to a memory-mapped file in a temporary folder (removed at exit), so
the splits are views on disk and the process only holds what it touches.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from robustcheck.data.registry import DATASETS, call_loader
from robustcheck.data.splits import (
    DEFAULT_FRACTIONS,
    VAL_FRACTION,
    DatasetSplits,
    Split,
    hash_parts,
    stratified_split,
)
from robustcheck.errors import ConfigError

#: images of a Dataset larger than this (as float32) go to a memory-mapped file instead of memory
IN_MEMORY_BYTES = 512 * 2**20
_SPLIT_KEYS = {"train": "train", "val": "val", "validation": "val", "test": "test"}
FORMS = (
    "a registered name, a path to an image folder (ImageFolder layout), tensors (x, y), a mapping of "
    "'train'/'val'/'test' to (x, y) or Datasets, a map-style torch Dataset of (image, label), or a "
    "callable returning one of these"
)


def is_dataset_spec(value: object) -> bool:
    """Whether ``value`` has one of the accepted forms (checked cheaply, without loading anything)."""
    if isinstance(value, (str, os.PathLike, Mapping, DatasetSplits)) or _is_dataset(value):
        return True
    if isinstance(value, (tuple, list)) and len(value) == 2 and all(_is_array(v) for v in value):
        return True
    return callable(value) and not isinstance(value, (Tensor, np.ndarray))


def describe(spec: object) -> str:
    """A short identity of a dataset spec for ids, records and messages (not its content)."""
    if isinstance(spec, str) and spec in DATASETS:
        return spec
    if isinstance(spec, (str, os.PathLike)):
        return f"folder:{os.fspath(spec)}"
    if isinstance(spec, DatasetSplits):
        return spec.name
    if isinstance(spec, Mapping):
        return "tensors{" + ",".join(str(k) for k in spec) + "}"
    if isinstance(spec, (tuple, list)):
        return "tensors"
    if _is_dataset(spec):
        return f"dataset:{type(spec).__module__}.{type(spec).__qualname__}"
    return f"{getattr(spec, '__module__', '?')}.{getattr(spec, '__qualname__', type(spec).__qualname__)}"


def resolve_dataset(
    spec: object, *, seed: int = 0, root: str | os.PathLike[str] | None = None, download: bool = False
) -> DatasetSplits:
    """Turn any accepted form into :class:`DatasetSplits` (see the module docstring)."""
    if isinstance(spec, str) and spec in DATASETS:
        value = call_loader(DATASETS.get(spec), f"dataset {spec!r}", seed=seed, root=root, download=download)
        return _from_value(value, spec, seed)
    if isinstance(spec, (str, os.PathLike)):
        path = Path(spec)
        if path.is_dir():
            return _from_value(image_folder(path), describe(spec), seed)
        known = ", ".join(DATASETS.list())
        raise ConfigError(
            f"dataset {os.fspath(spec)!r} is neither a registered name (known: {known}) nor an "
            f"existing folder of images in the ImageFolder layout."
        )
    if callable(spec) and not _is_dataset(spec) and not isinstance(spec, (Tensor, np.ndarray)):
        value = call_loader(spec, f"dataset {describe(spec)}", seed=seed, root=root, download=download)
        if callable(value) and not _is_dataset(value):
            raise ConfigError(
                f"dataset {describe(spec)}: the callable returned another callable "
                f"({value!r}); it must return the data: {FORMS}."
            )
        return _from_value(value, describe(spec), seed)
    return _from_value(spec, describe(spec), seed)


# --- forms -------------------------------------------------------------------------------------------
def _from_value(value: object, name: str, seed: int) -> DatasetSplits:
    if isinstance(value, DatasetSplits):
        return value
    if isinstance(value, (str, os.PathLike)) and Path(value).is_dir():
        value = image_folder(Path(value))
    if isinstance(value, Mapping):
        unknown = [k for k in value if k not in _SPLIT_KEYS]
        if unknown or not value:
            raise ConfigError(
                f"dataset {name}: a mapping of splits takes the keys 'train', 'val' (or "
                f"'validation') and 'test'; got {sorted(map(str, value))}."
            )
        pools: dict[str, tuple[Tensor, Tensor]] = {}
        for k, v in value.items():
            part = _SPLIT_KEYS[k]
            if part in pools:
                raise ConfigError(
                    f"dataset {name}: the mapping gives the validation split twice ('val' and 'validation')."
                )
            pools[part] = _pair(v, f"dataset {name}, split {k!r}")
        return _assemble(pools, name, seed)
    return _assemble({"all": _pair(value, f"dataset {name}")}, name, seed)


def _pair(value: object, what: str) -> tuple[Tensor, Tensor]:
    if _is_dataset(value):
        return _read_dataset(value, what)
    if isinstance(value, Split):
        return value.x, value.y
    if isinstance(value, (tuple, list)) and len(value) == 2 and all(_is_array(v) for v in value):
        return _images(value[0], what), _labels(value[1], what, n=None)
    raise ConfigError(f"{what}: got {type(value).__name__}; accepted: {FORMS}.")


def _assemble(pools: dict[str, tuple[Tensor, Tensor]], name: str, seed: int) -> DatasetSplits:
    shapes = {k: tuple(x.shape[1:]) for k, (x, _) in pools.items()}
    if len(set(shapes.values())) > 1:
        raise ConfigError(
            f"dataset {name}: the splits have different image shapes {shapes}; every image must "
            f"have the same C×H×W."
        )
    for k, (x, y) in pools.items():
        if x.shape[0] != y.shape[0]:
            raise ConfigError(f"dataset {name}: {k} has {x.shape[0]} images but {y.shape[0]} labels.")
    if "all" in pools:
        x, y = pools["all"]
        parts = _split(x, y, DEFAULT_FRACTIONS, seed, name)
        train, val, test = parts
    else:
        if "train" not in pools:
            raise ConfigError(
                f"dataset {name}: a mapping of splits needs a 'train' split (got "
                f"{sorted(pools)}); val and test are split off train when missing."
            )
        x, y = pools["train"]
        if "val" in pools and "test" in pools:
            train, val, test = Split(x, y), Split(*pools["val"]), Split(*pools["test"])
        elif "test" in pools:
            train, val, _ = _split(x, y, (1 - VAL_FRACTION, VAL_FRACTION, 0.0), seed, name)
            test = Split(*pools["test"])
        elif "val" in pools:
            train, _, test = _split(x, y, (1 - DEFAULT_FRACTIONS[2], 0.0, DEFAULT_FRACTIONS[2]), seed, name)
            val = Split(*pools["val"])
        else:
            train, val, test = _split(x, y, DEFAULT_FRACTIONS, seed, name)
    for what, s in (("train", train), ("validation", val), ("test", test)):
        if len(s) == 0:
            raise ConfigError(
                f"dataset {name}: the {what} split is empty; give more examples per class or "
                f"give the split explicitly."
            )
    num_classes = int(max(int(s.y.max()) for s in (train, val, test))) + 1
    if num_classes < 2:
        raise ConfigError(f"dataset {name}: the labels name only one class; a classifier needs at least two.")
    content = hash_parts("splits", train.x, train.y, val.x, val.y, test.x, test.y)
    return DatasetSplits(name, train, val, test, num_classes, content)


def _split(
    x: Tensor, y: Tensor, fractions: tuple[float, float, float], seed: int, name: str
) -> tuple[Split, Split, Split]:
    idx = stratified_split(y, fractions, seed)
    order = torch.cat(idx)
    xs = _gather(x, order)
    ys = y[order]
    out, start = [], 0
    for part in idx:
        out.append(Split(xs[start : start + part.numel()], ys[start : start + part.numel()]))
        start += part.numel()
    return out[0], out[1], out[2]


def _gather(x: Tensor, order: Tensor) -> Tensor:
    """``x[order]``; a memory-mapped ``x`` is gathered into another memory-mapped file, in chunks."""
    if not _is_mapped(x):
        return x[order]
    out = _mapped_tensor(tuple(x.shape))
    step = max(1, (64 * 2**20) // max(1, x[0].numel() * 4))
    for s in range(0, order.numel(), step):
        out[s : s + step] = x[order[s : s + step]]
    return out


# --- conversion ----------------------------------------------------------------------------------------
def _is_array(v: object) -> bool:
    return isinstance(v, (Tensor, np.ndarray))


def _is_dataset(v: object) -> bool:
    return isinstance(v, torch.utils.data.Dataset) and not isinstance(v, torch.utils.data.IterableDataset)


def _images(x: object, what: str) -> Tensor:
    t = torch.as_tensor(np.asarray(x)) if isinstance(x, np.ndarray) else x
    assert isinstance(t, Tensor)
    if t.dim() == 3:
        t = t.unsqueeze(1)
    if t.dim() != 4:
        raise ConfigError(f"{what}: images must be N×C×H×W (or N×H×W); got shape {tuple(t.shape)}.")
    return _unit_range(t, what)


def _unit_range(t: Tensor, what: str) -> Tensor:
    if t.dtype == torch.uint8:
        return t.float().div_(255.0)
    if t.dtype == torch.bool or not (
        t.is_floating_point() or t.dtype in (torch.int16, torch.int32, torch.int64)
    ):
        raise ConfigError(
            f"{what}: images must be float in [0, 1] or uint8 in [0, 255]; got dtype {t.dtype}."
        )
    if not t.is_floating_point():
        raise ConfigError(
            f"{what}: images are integers of dtype {t.dtype}; give uint8 in [0, 255] or float in [0, 1]."
        )
    t = t.float()
    if t.numel() and not torch.isfinite(t).all():
        raise ConfigError(f"{what}: images contain NaN or inf.")
    lo, hi = (float(t.min()), float(t.max())) if t.numel() else (0.0, 0.0)
    if lo < 0.0 or hi > 1.0:
        raise ConfigError(
            f"{what}: image values span [{lo:.3g}, {hi:.3g}], outside [0, 1]. robustcheck attacks "
            f"in [0, 1] pixel space so that ε keeps its meaning: give unnormalised images and "
            f"declare the model's normalisation with Suite(normalize=(mean, std))."
        )
    return t


def _labels(y: object, what: str, n: int | None) -> Tensor:
    t = torch.as_tensor(np.asarray(y)) if not isinstance(y, Tensor) else y
    if t.dim() != 1 or t.is_floating_point() or t.dtype == torch.bool or t.is_complex():
        raise ConfigError(
            f"{what}: labels must be a 1-d tensor of integer class indices; got dtype {t.dtype}, "
            f"shape {tuple(t.shape)}."
        )
    t = t.long()
    if t.numel() and int(t.min()) < 0:
        raise ConfigError(f"{what}: labels must be class indices >= 0; got {int(t.min())}.")
    return t


def _one_image(img: object, what: str) -> Tensor:
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - torchvision depends on pillow
        Image = None  # type: ignore[assignment]
    if Image is not None and isinstance(img, Image.Image):
        if img.mode not in ("L", "RGB"):
            img = img.convert("L" if img.mode in ("1", "I", "I;16", "F") else "RGB")
        arr = np.asarray(img)
        t = torch.from_numpy(arr.copy())
        t = t.unsqueeze(0) if t.dim() == 2 else t.permute(2, 0, 1)
    elif isinstance(img, np.ndarray):
        t = torch.from_numpy(np.ascontiguousarray(img))
        if t.dim() == 3 and t.shape[-1] in (1, 3, 4) and t.shape[0] not in (1, 3, 4):
            t = t.permute(2, 0, 1)  # H×W×C, numpy's image layout
    elif isinstance(img, Tensor):
        t = img
    else:
        raise ConfigError(
            f"{what}: an item's image is {type(img).__name__}; give a C×H×W tensor, a numpy "
            f"array or a PIL image."
        )
    if t.dim() == 2:
        t = t.unsqueeze(0)
    if t.dim() != 3:
        raise ConfigError(f"{what}: an item's image has shape {tuple(t.shape)}; images must be C×H×W or H×W.")
    return _unit_range(t, what)


def _one_label(label: object, what: str, i: int) -> int:
    if isinstance(label, Tensor) and label.numel() == 1 and not label.is_floating_point():
        return int(label.item())
    if isinstance(label, (int, np.integer)) and not isinstance(label, bool):
        return int(label)
    if isinstance(label, np.ndarray) and label.size == 1 and np.issubdtype(label.dtype, np.integer):
        return int(label.reshape(()))  # np.array(3) or np.array([3]), as a transform may return
    raise ConfigError(f"{what}: item {i}'s label is {label!r}; labels must be integer class indices.")


def _read_dataset(ds: Any, what: str) -> tuple[Tensor, Tensor]:
    """Read a map-style Dataset once, item by item, into (images, labels); large ones go to disk."""
    try:
        n = len(ds)
    except TypeError:
        raise ConfigError(f"{what}: the Dataset has no len(); give a map-style torch Dataset.") from None
    if n == 0:
        raise ConfigError(f"{what}: the Dataset is empty.")
    first = _item(ds, 0, what)
    shape = tuple(first[0].shape)
    nbytes = n * first[0].numel() * 4
    x = _mapped_tensor((n, *shape)) if nbytes > IN_MEMORY_BYTES else torch.empty((n, *shape))
    y = torch.empty(n, dtype=torch.long)
    x[0], y[0] = first[0], first[1]
    for i in range(1, n):
        img, label = _item(ds, i, what)
        if tuple(img.shape) != shape:
            raise ConfigError(
                f"{what}: item {i} has image shape {tuple(img.shape)} but item 0 has {shape}; every "
                f"image must have the same C×H×W (resize them in the Dataset's transform)."
            )
        x[i], y[i] = img, label
    return x, y


def _item(ds: Any, i: int, what: str) -> tuple[Tensor, int]:
    item = ds[i]
    if not isinstance(item, (tuple, list)) or len(item) < 2:
        raise ConfigError(f"{what}: item {i} is {type(item).__name__}; a Dataset must return (image, label).")
    return _one_image(item[0], what), _one_label(item[1], what, i)


# --- files -----------------------------------------------------------------------------------------------
_TMP: list[str] = []


def _mapped_tensor(shape: tuple[int, ...]) -> Tensor:
    """A float32 tensor backed by a file in a process-private temporary folder (removed at exit)."""
    if not _TMP:
        _TMP.append(tempfile.mkdtemp(prefix="robustcheck-data-"))
        atexit.register(shutil.rmtree, _TMP[0], True)
    fd, path = tempfile.mkstemp(dir=_TMP[0], suffix=".f32")
    os.close(fd)
    arr = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=shape)
    t = torch.from_numpy(arr)
    t._robustcheck_mapped = True  # type: ignore[attr-defined]
    return t


def _is_mapped(t: Tensor) -> bool:
    base = t
    return bool(getattr(base, "_robustcheck_mapped", False))


def image_folder(path: Path) -> Any:
    """An ``ImageFolder`` over ``path`` whose images keep one channel when grayscale (RGB otherwise)."""
    import torchvision
    from PIL import Image

    def load(p: str) -> Any:
        with Image.open(p) as img:
            return img.convert("L") if img.mode in ("L", "1", "I", "I;16", "F", "LA") else img.convert("RGB")

    try:
        return torchvision.datasets.ImageFolder(str(path), loader=load)
    except (FileNotFoundError, RuntimeError) as exc:
        raise ConfigError(
            f"dataset folder {str(path)!r} is not in the ImageFolder layout (one sub-folder of "
            f"images per class): {exc}"
        ) from None


def folder_loader(path: str | os.PathLike[str]) -> Callable[[], Any]:
    """A loader for ``register_dataset`` reading an image folder (convenience)."""
    return lambda: image_folder(Path(path))
