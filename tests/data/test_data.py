from __future__ import annotations

import pytest
import torch

from robustcheck.data import load_dataset, stratified_split
from robustcheck.errors import ConfigError


def test_embedded_mnist_is_real_and_split_stratified():
    d = load_dataset("mnist-embedded")
    assert (len(d.train), len(d.val), len(d.test)) == (3500, 500, 1000)
    assert d.train.x.shape[1:] == (1, 28, 28)
    assert float(d.train.x.min()) >= 0.0 and float(d.train.x.max()) <= 1.0
    for split, per_class in ((d.train, 350), (d.val, 50), (d.test, 100)):
        assert torch.bincount(split.y, minlength=10).tolist() == [per_class] * 10


def test_split_is_deterministic_and_disjoint():
    a, b = load_dataset("mnist-embedded", seed=3), load_dataset("mnist-embedded", seed=3)
    assert torch.equal(a.test.x, b.test.x) and a.content_hash == b.content_hash
    c = load_dataset("mnist-embedded", seed=4)
    assert c.content_hash != a.content_hash
    y = torch.arange(10).repeat(20)
    tr, va, te = stratified_split(y, (0.5, 0.25, 0.25), seed=0)
    allidx = torch.cat([tr, va, te])
    assert allidx.numel() == 200 and allidx.unique().numel() == 200


def test_torchvision_dataset_without_root_says_how():
    with pytest.raises(ConfigError, match="data-root"):
        load_dataset("cifar10")
    with pytest.raises(ConfigError, match="does not exist"):
        load_dataset("mnist", root="/nonexistent/robustcheck-data")


def test_unknown_dataset_lists_known():
    with pytest.raises(ConfigError, match=r"known: .*mnist-embedded.*existing folder"):
        load_dataset("imagenet")
