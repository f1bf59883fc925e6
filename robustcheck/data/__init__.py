"""Data: the built-in datasets, the user's data in any accepted form, splits and content hashes.

``Suite(dataset=...)`` takes a registered name, an image folder, tensors, a mapping of splits, a torch
Dataset or a callable returning one of these (:mod:`robustcheck.data.sources`). Importing this package
registers the built-in datasets (:mod:`robustcheck.data.builtin`).
"""

from robustcheck.data.builtin import (
    digits_8x8,
    embedded_mnist_path,
    load_dataset,
    load_embedded_mnist,
    mnist_embedded,
)
from robustcheck.data.registry import DATASETS, register_dataset
from robustcheck.data.sources import FORMS, describe, is_dataset_spec, resolve_dataset
from robustcheck.data.splits import DatasetSplits, Split, hash_parts, stratified_split

__all__ = [
    "DATASETS",
    "FORMS",
    "DatasetSplits",
    "Split",
    "describe",
    "digits_8x8",
    "embedded_mnist_path",
    "hash_parts",
    "is_dataset_spec",
    "load_dataset",
    "load_embedded_mnist",
    "mnist_embedded",
    "register_dataset",
    "resolve_dataset",
    "stratified_split",
]
