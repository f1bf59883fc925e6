"""On-disk cache for trained weights and adversarial sets.

Entries are keyed by a content hash, written atomically (temp file + rename) under a file lock so
that xdist workers do expensive work once, and loaded with ``torch.load(weights_only=True)``. A
corrupt entry is detected on load, removed and recomputed — never trusted. An entry's file name hashes
its key with :func:`code_version` (robustcheck, torch and torchattacks versions, a hash of the source), so
entries written by other code are never read.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import importlib.metadata
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


def _update_with_tensor(h: Any, t: torch.Tensor) -> None:
    """Feed dtype, shape and the raw bytes of ``t`` to the hash ``h``."""
    t = t.detach()
    h.update(f"{t.dtype}|{tuple(t.shape)}|".encode())
    if t.is_sparse or t.is_quantized or t.layout != torch.strided:
        h.update(repr(t).encode())  # rare layouts: their repr holds every value
        return
    flat = t.cpu().contiguous().reshape(-1)
    if flat.dtype == torch.bool:
        flat = flat.to(torch.uint8)
    h.update(memoryview(flat.view(torch.uint8).numpy()))


def tensor_digest(*parts: Any) -> str:
    """sha256 over tensors (dtype, shape, raw bytes) and other values (their repr), in order."""
    h = hashlib.sha256()
    for p in parts:
        if isinstance(p, torch.Tensor):
            _update_with_tensor(h, p)
        else:
            h.update(repr(p).encode())
        h.update(b"\x00")
    return h.hexdigest()[:24]


def module_fingerprint(module: Any, exclude: tuple[str, ...] = ()) -> str:
    """Content hash of a module's ``state_dict``: the name, dtype, shape and raw bytes of every parameter
    and buffer (not a summary: permuting two output rows changes it). ``exclude``: names to skip."""
    h = hashlib.sha256()
    for name, value in module.state_dict().items():
        if name in exclude:
            continue
        h.update(name.encode() + b"\x00")
        if isinstance(value, torch.Tensor):
            _update_with_tensor(h, value)
        else:  # extra state
            h.update(repr(value).encode())
        h.update(b"\x00")
    return h.hexdigest()[:24]


def _source_digest() -> str:
    """sha256 of the source of the ``robustcheck`` and ``defences`` packages (what computes the entries)."""
    h = hashlib.sha256()
    for pkg in ("robustcheck", "defences"):
        try:
            mod = importlib.import_module(pkg)
        except ImportError:  # pragma: no cover
            continue
        for base in getattr(mod, "__path__", []):
            root = Path(base)
            for f in sorted(root.rglob("*.py")):
                h.update(f.relative_to(root).as_posix().encode() + b"\x00")
                h.update(f.read_bytes())
    return h.hexdigest()[:16]


@functools.lru_cache(maxsize=1)
def code_version() -> dict[str, str]:
    """What every disk key holds besides its content: the versions of robustcheck, torch and torchattacks
    and a hash of robustcheck's and the built-in defences' source, so that a code change never reuses an
    entry computed by other code."""
    try:
        version = importlib.metadata.version("pytest-robustcheck")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover  (source checkout, not installed)
        version = "unknown"
    try:
        import torchattacks

        ta = str(getattr(torchattacks, "__version__", "unknown"))
    except ImportError:  # pragma: no cover
        ta = "absent"
    return {"robustcheck": version, "torch": torch.__version__, "torchattacks": ta, "source": _source_digest()}


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

    def __init__(self, root: str | os.PathLike[str] | None, version: Any = None) -> None:
        self.root = Path(root) if root is not None else None
        #: part of every entry's file name: the code and library versions (:func:`code_version`)
        self.version = code_version() if version is None else version

    @property
    def enabled(self) -> bool:
        return self.root is not None

    def path(self, kind: str, key: str) -> Path:
        """The entry's file: its name hashes ``key`` with :attr:`version`, so an entry written by other
        code or libraries is never read."""
        assert self.root is not None
        return self.root / kind / f"{content_key(key, self.version)}.pt"

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
