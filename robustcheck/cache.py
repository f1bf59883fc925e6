"""On-disk cache for trained weights and adversarial sets.

Entries are keyed by a content hash, written atomically (temp file + rename) under a file lock so
that xdist workers do expensive work once, and loaded with ``torch.load(weights_only=True)``. A
corrupt entry is detected on load, removed and recomputed — never trusted.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import torch
from filelock import FileLock

log = logging.getLogger("robustcheck")
T = TypeVar("T")


def content_key(*parts: Any) -> str:
    """Stable hash of JSON-able parts (dicts sorted), used as a cache key."""
    blob = json.dumps(parts, sort_keys=True, default=repr).encode()
    return hashlib.sha256(blob).hexdigest()[:24]


def atomic_write_bytes(path: Path, write: Callable[[Any], None]) -> None:
    """Call ``write(fileobj)`` on a temp file in ``path``'s folder, then rename it over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; give the entry ordinary permissions
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


class DiskCache:
    """A folder of ``<kind>/<key>.pt`` entries holding dicts of tensors (and plain values)."""

    def __init__(self, root: str | os.PathLike[str] | None) -> None:
        self.root = Path(root) if root is not None else None

    @property
    def enabled(self) -> bool:
        return self.root is not None

    def path(self, kind: str, key: str) -> Path:
        assert self.root is not None
        return self.root / kind / f"{key}.pt"

    def load(self, kind: str, key: str) -> dict[str, Any] | None:
        if self.root is None:
            return None
        p = self.path(kind, key)
        if not p.exists():
            return None
        try:
            obj = torch.load(p, map_location="cpu", weights_only=True)
            if not isinstance(obj, dict):
                raise ValueError("entry is not a dict")
            return obj
        except Exception as exc:  # noqa: BLE001  corrupt or foreign file: drop it and recompute
            log.warning("robustcheck: corrupt cache entry %s (%s); recomputing", p, exc)
            p.unlink(missing_ok=True)
            return None

    def save(self, kind: str, key: str, obj: dict[str, Any]) -> None:
        if self.root is None:
            return
        atomic_write_bytes(self.path(kind, key), lambda fh: torch.save(obj, fh))

    def get_or_compute(self, kind: str, key: str, compute: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """Return the cached entry or compute, save and return it (under a file lock)."""
        if self.root is None:
            return compute()
        hit = self.load(kind, key)
        if hit is not None:
            return hit
        lock_path = self.path(kind, key).with_suffix(".lock")
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(lock_path)):
            hit = self.load(kind, key)  # another worker may have finished it meanwhile
            if hit is not None:
                return hit
            obj = compute()
            self.save(kind, key, obj)
            return obj
