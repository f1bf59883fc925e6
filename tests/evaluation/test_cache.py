from __future__ import annotations

import os

import pytest
import torch

from robustcheck.cache import DiskCache, atomic_write_bytes, content_key


def test_roundtrip_and_key_stability(tmp_path):
    c = DiskCache(tmp_path)
    assert content_key("a", {"x": 1, "y": 2}) == content_key("a", {"y": 2, "x": 1})
    calls = []
    obj = c.get_or_compute("k", "abc", lambda: calls.append(1) or {"w": torch.ones(3)})
    again = c.get_or_compute("k", "abc", lambda: calls.append(1) or {"w": torch.zeros(3)})
    assert calls == [1] and torch.equal(obj["w"], again["w"])


def test_corrupt_entry_is_recomputed(tmp_path):
    c = DiskCache(tmp_path)
    c.save("k", "abc", {"w": torch.ones(2)})
    c.path("k", "abc").write_bytes(b"not a torch file")
    obj = c.get_or_compute("k", "abc", lambda: {"w": torch.zeros(2)})
    assert torch.equal(obj["w"], torch.zeros(2))


def test_interrupted_compute_leaves_nothing(tmp_path):
    c = DiskCache(tmp_path)

    def boom():
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        c.get_or_compute("k", "abc", boom)
    leftovers = [p for p in (tmp_path / "k").iterdir() if not p.name.endswith(".lock")]
    assert leftovers == []


def test_failed_write_leaves_old_file_and_no_temp(tmp_path):
    target = tmp_path / "k" / "entry.json"
    atomic_write_bytes(target, lambda fh: fh.write(b"old"))

    def half_then_fail(fh):
        fh.write(b"half-writ")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write_bytes(target, half_then_fail)
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in target.parent.iterdir()) == ["entry.json"]


def test_disabled_cache_computes(tmp_path):
    c = DiskCache(None)
    assert c.get_or_compute("k", "x", lambda: {"v": 1}) == {"v": 1}
    assert not os.listdir(tmp_path)
