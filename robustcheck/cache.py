"""On-disk cache for trained weights and adversarial sets.

Entries are keyed by a content hash, written atomically (temp file + rename, :mod:`robustcheck.safefiles`)
under a lock so that xdist workers do expensive work once, and loaded with
``torch.load(weights_only=True)``. An entry that cannot be loaded, or loads but does not have the expected
structure (a ``validate`` callable, :func:`check_entry` by default), is removed and recomputed — never
trusted — and said so in :attr:`DiskCache.events` (the terminal summary). An entry's file name hashes its
key with :func:`code_version` (robustcheck, torch and torchattacks versions, a hash of the source), so
entries written by other code are never read.

Locks (:class:`EntryLock`): the holder writes its pid, host, command line and start time into the lock
file and touches it every 2 s while it computes. A waiter waits as long as the holder shows signs of life
(a long training is fine), breaks the lock of a holder that is gone (same host, pid dead), and fails with
:class:`CacheLockTimeout` naming the holder when the holder has shown no sign of life for
``ROBUSTCHECK_LOCK_TIMEOUT`` seconds (default 120: a suspended or hung process).
"""

from __future__ import annotations

import errno
import functools
import hashlib
import importlib
import importlib.metadata
import json
import logging
import math
import os
import stat
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import torch

from robustcheck import safefiles
from robustcheck.errors import ConfigError, RobustcheckError

try:
    import fcntl
except ImportError:  # pragma: no cover  (Windows: filelock with a plain timeout)
    fcntl = None  # type: ignore[assignment]

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
    h.update(flat.view(torch.uint8).numpy().data)  # the array's buffer (a memoryview): no copy


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
    """sha256 of the source of the ``robustcheck`` package, its ``defences`` (installed from the repository's
    top-level ``defences/`` folder) included: what computes the entries."""
    h = hashlib.sha256()
    for pkg in ("robustcheck", "robustcheck.defences"):
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
    return {
        "robustcheck": version,
        "torch": torch.__version__,
        "torchattacks": ta,
        "source": _source_digest(),
    }


def atomic_write_bytes(path: Path, write: Callable[[Any], None]) -> None:
    """Call ``write(fileobj)`` on a temp file in ``path``'s folder, then rename it over ``path``
    (:func:`robustcheck.safefiles.atomic_write_bytes`: the temp file names its writer's pid)."""
    safefiles.atomic_write_bytes(Path(path), write)


# ---------------------------------------------------------------------------- errors and validators
class CacheError(RobustcheckError):
    """The cache folder cannot be used (permissions, a file in place of a folder)."""


class CacheLockTimeout(CacheError):
    """A cache entry's lock is held by a process that shows no sign of life."""


LOCK_TIMEOUT_ENV = "ROBUSTCHECK_LOCK_TIMEOUT"
DEFAULT_LOCK_TIMEOUT_S = 120.0


def lock_timeout_from_env() -> float:
    """Seconds a lock holder may show no sign of life before a waiter gives up
    (``ROBUSTCHECK_LOCK_TIMEOUT``)."""
    raw = os.environ.get(LOCK_TIMEOUT_ENV, "").strip()
    if not raw:
        return DEFAULT_LOCK_TIMEOUT_S
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise ConfigError(
            f"{LOCK_TIMEOUT_ENV}={raw!r}: must be a number of seconds > 0 "
            f"(default {DEFAULT_LOCK_TIMEOUT_S:g})"
        )
    return value


_PLAIN = (type(None), bool, int, float, str)


def _check_plain(name: str, v: Any, depth: int = 0) -> None:
    if isinstance(v, (torch.Tensor, *_PLAIN)):
        return
    if depth < 4 and isinstance(v, (list, tuple)):
        for i, item in enumerate(v):
            _check_plain(f"{name}[{i}]", item, depth + 1)
        return
    if depth < 4 and isinstance(v, dict):
        for k, item in v.items():
            _check_plain(f"{name}[{k!r}]", item, depth + 1)
        return
    raise TypeError(f"{name} holds a {type(v).__name__}, not a tensor or plain value")


def check_entry(obj: Any) -> None:
    """The default structure check of an entry: a non-empty dict with string keys whose values are
    tensors or plain values (numbers, strings, None, lists/dicts of them). Raises ValueError saying why."""
    if not isinstance(obj, dict):
        raise TypeError(f"it is a {type(obj).__name__}, not a dict")
    if not obj:
        raise ValueError("it is an empty dict")
    for k, v in obj.items():
        if not isinstance(k, str):
            raise TypeError(f"key {k!r} is not a string")
        _check_plain(repr(k), v)


def state_dict_validator(module: torch.nn.Module) -> Callable[[Any], None]:
    """A ``validate`` for an entry holding ``module.state_dict()``: the same names, and for each a tensor
    of the same shape and dtype (what ``load_state_dict`` needs). Reads ``module`` now, never changes it."""
    expected = {
        k: (tuple(v.shape), v.dtype) for k, v in module.state_dict().items() if isinstance(v, torch.Tensor)
    }
    others = {k for k, v in module.state_dict().items() if not isinstance(v, torch.Tensor)}

    def validate(obj: Any) -> None:
        check_entry(obj)  # a dict, not empty: the general message first
        missing = sorted((set(expected) | others) - set(obj))
        unexpected = sorted(set(obj) - set(expected) - others)
        if missing or unexpected:
            raise ValueError(f"state dict keys differ (missing {missing[:5]}, unexpected {unexpected[:5]})")
        for k, (shape, dtype) in expected.items():
            v = obj[k]
            if not isinstance(v, torch.Tensor):
                raise TypeError(f"{k!r} is a {type(v).__name__}, not a tensor")
            if tuple(v.shape) != shape or v.dtype != dtype:
                raise ValueError(f"{k!r} is {v.dtype} {tuple(v.shape)}, expected {dtype} {shape}")

    return validate


def loads_into(make: Callable[[], torch.nn.Module]) -> Callable[[Any], None]:
    """A ``validate`` for a state dict that must load (strictly) into the module ``make()`` returns, a
    throwaway copy: exact for modules whose training sets the shape of some state (a reference sample
    sized by the data), which :func:`state_dict_validator` cannot know in advance."""

    def validate(obj: Any) -> None:
        check_entry(obj)
        make().load_state_dict(obj)

    return validate


def expect_tensors(**shapes: tuple[int | None, ...]) -> Callable[[Any], None]:
    """A ``validate`` for an entry holding tensors ``name=shape`` (``None`` in a shape: any size), each
    finite; other keys are allowed. E.g. ``expect_tensors(x_adv=tuple(x.shape))``."""

    def validate(obj: Any) -> None:
        check_entry(obj)
        for k, shape in shapes.items():
            v = obj.get(k)
            if not isinstance(v, torch.Tensor):
                raise TypeError(f"{k!r} is {'missing' if k not in obj else type(v).__name__}, not a tensor")
            if len(v.shape) != len(shape) or any(
                s is not None and s != d for s, d in zip(shape, v.shape, strict=True)
            ):
                raise ValueError(f"{k!r} has shape {tuple(v.shape)}, expected {shape}")
            if v.is_floating_point() and not bool(torch.isfinite(v).all()):
                raise ValueError(f"{k!r} holds NaN or inf")

    return validate


def _invalid(obj: Any, validate: Callable[[Any], Any] | None) -> str | None:
    """Why ``obj`` fails ``validate`` (a reason), or None."""
    try:
        if validate is not None and validate(obj) is False:
            raise ValueError("the caller's check rejected it")
    except Exception as exc:
        return f"does not have the expected structure ({exc})"
    return None


# ---------------------------------------------------------------------------- locks
class EntryLock:
    """An exclusive lock on a cache entry (``flock`` on ``<entry>.lock``), with the holder's identity in
    the lock file and a heartbeat (the lock file's mtime) while it is held. See the module doc."""

    def __init__(self, path: Path, entry: str, timeout: float, events: list[str] | None = None) -> None:
        self.path = Path(path)
        self.entry = entry
        self.timeout = float(timeout)
        self.events = events if events is not None else []
        self._fd: int | None = None
        self._stop = threading.Event()
        self._beat: threading.Thread | None = None
        self._fallback: Any = None

    # -------------------------------------------------------------- holder information
    def _holder_blob(self) -> bytes:
        now = time.time()
        return json.dumps(
            {
                "pid": os.getpid(),
                "host": safefiles.HOST,
                "start": safefiles.process_start(os.getpid()),
                "cmd": safefiles.command_line(),
                "since_epoch": now,
                "since": time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(now)),
            }
        ).encode()

    def read_holder(self) -> dict[str, Any] | None:
        try:
            raw = self.path.read_bytes()[:8192]
            info = json.loads(raw) if raw.strip() else None
        except (OSError, ValueError):
            return None
        return info if isinstance(info, dict) and isinstance(info.get("pid"), int) else None

    @staticmethod
    def _gone(info: dict[str, Any] | None) -> bool:
        """The holder ran on this host and has exited."""
        return (
            info is not None
            and info.get("host") == safefiles.HOST
            and not safefiles.pid_alive(info["pid"], info.get("start"))
        )

    def _describe(self, info: dict[str, Any] | None) -> str:
        if info is None:
            return "an unknown process (no holder information in the lock file)"
        where = "" if info.get("host") == safefiles.HOST else f" on host {info.get('host')}"
        return f"pid {info['pid']}{where} (cmd: {info.get('cmd') or '?'}) since {info.get('since') or '?'}"

    # -------------------------------------------------------------- acquire / release
    def _open(self) -> int:
        flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
        for _ in range(3):
            try:
                fd = os.open(self.path, flags, 0o666)
            except OSError as exc:
                if isinstance(exc, IsADirectoryError) or exc.errno == errno.ELOOP:  # a folder / symlink
                    self._replace_foreign(
                        "is a folder" if isinstance(exc, IsADirectoryError) else "is a symlink"
                    )
                    continue
                raise CacheError(
                    f"cache entry {self.entry}: cannot open its lock file {self.path} "
                    f"({exc.strerror or exc}); make the cache folder writable or point "
                    f"--robustcheck-cache-dir at another folder"
                ) from None
            if stat.S_ISREG(os.fstat(fd).st_mode):
                return fd
            os.close(fd)
            self._replace_foreign("is not a regular file")
        raise CacheError(
            f"cache entry {self.entry}: its lock file {self.path} keeps being replaced by "
            f"something that is not a file; delete it"
        )

    def _replace_foreign(self, what: str) -> None:
        safefiles.remove_path(self.path)
        self.events.append(f"robustcheck: the lock file of cache entry {self.entry} {what}; removed it")

    def acquire(self) -> EntryLock:
        if fcntl is None:  # pragma: no cover
            from filelock import FileLock, Timeout

            self._fallback = FileLock(str(self.path), timeout=self.timeout)
            try:
                self._fallback.acquire()
            except Timeout:
                raise CacheLockTimeout(
                    f"cache entry {self.entry} is locked by another process for more than "
                    f"{self.timeout:g} s ({LOCK_TIMEOUT_ENV}); if that process is gone "
                    f"delete {self.path}"
                ) from None
            return self
        started = time.monotonic()
        poll = 0.02
        seen_gone: bytes | None = None  # holder info seen dead on the previous poll
        while True:
            fd = self._open()
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EWOULDBLOCK, errno.EACCES):
                    os.close(fd)
                    raise CacheError(
                        f"cache entry {self.entry}: cannot lock {self.path} ({exc.strerror}); the "
                        f"cache folder's file system may not support locks"
                    ) from None
                info = self.read_holder()
                if info is not None and info.get("pid") == os.getpid() and info.get("host") == safefiles.HOST:
                    os.close(fd)
                    raise CacheError(
                        f"cache entry {self.entry} is already locked by this process (a "
                        f"computation that needs its own result)"
                    ) from None
                if self._gone(info):
                    blob = json.dumps(info, sort_keys=True).encode()
                    if blob == seen_gone:  # the same dead holder twice in a row: not a fresh holder's race
                        self._break(fd, info)
                        seen_gone = None
                        continue
                    seen_gone = blob
                else:
                    seen_gone = None
                silent = min(time.time() - os.fstat(fd).st_mtime, time.monotonic() - started)
                os.close(fd)
                if silent > self.timeout:
                    raise CacheLockTimeout(
                        f"cache entry {self.entry} is locked by {self._describe(info)}, which has shown no "
                        f"sign of life for {silent:.0f} s (limit {self.timeout:g} s, {LOCK_TIMEOUT_ENV}); "
                        f"if that process is gone delete {self.path}"
                    ) from None
                time.sleep(poll)
                poll = min(poll * 1.5, 0.5)
                continue
            try:  # the lock file may have been broken (unlinked) between our open and our flock
                same = os.stat(self.path, follow_symlinks=False).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if not same:
                os.close(fd)  # closing releases the flock
                continue
            self._fd = fd
            os.ftruncate(fd, 0)
            os.pwrite(fd, self._holder_blob(), 0)
            self._start_heartbeat(fd)
            return self

    def _break(self, fd: int, info: dict[str, Any] | None) -> None:
        try:
            if os.stat(self.path, follow_symlinks=False).st_ino == os.fstat(fd).st_ino:
                self.path.unlink()
        except FileNotFoundError:
            pass
        finally:
            os.close(fd)
        self.events.append(
            f"robustcheck: broke the stale lock of cache entry {self.entry}: its holder "
            f"{self._describe(info)} is gone"
        )
        log.warning("robustcheck: broke the stale lock %s", self.path)

    def _start_heartbeat(self, fd: int) -> None:
        """Touch the held lock file ``fd`` (``self._fd``) periodically until :meth:`release`."""
        interval = max(0.1, min(2.0, self.timeout / 5))  # well within any waiter's timeout
        self._stop.clear()

        def beat() -> None:
            while not self._stop.wait(interval):
                try:
                    os.utime(fd)
                except OSError:  # pragma: no cover
                    return

        self._beat = threading.Thread(target=beat, name=f"robustcheck-lock-{self.entry}", daemon=True)
        self._beat.start()

    def release(self) -> None:
        if self._fallback is not None:  # pragma: no cover
            self._fallback.release()
            self._fallback = None
            return
        if self._fd is None:
            return
        self._stop.set()
        if self._beat is not None:
            self._beat.join()
            self._beat = None
        fd, self._fd = self._fd, None
        try:
            os.ftruncate(fd, 0)  # no stale holder information for the next reader
        except OSError:  # pragma: no cover
            pass
        finally:
            os.close(fd)  # releases the flock

    def __enter__(self) -> EntryLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


# ---------------------------------------------------------------------------- the cache
class DiskCache:
    """A folder of ``<kind>/<key>.pt`` entries holding dicts of tensors (and plain values).

    :attr:`events`: what happened that a user should hear of (an entry dropped and recomputed, a stale
    lock broken, temp files of killed runs removed); :meth:`drain_events` hands them to the terminal
    summary."""

    def __init__(
        self, root: str | os.PathLike[str] | None, version: Any = None, *, lock_timeout: float | None = None
    ) -> None:
        self.root = Path(root) if root is not None else None
        #: part of every entry's file name: the code and library versions (:func:`code_version`)
        self.version = code_version() if version is None else version
        #: seconds a lock holder may show no sign of life (``ROBUSTCHECK_LOCK_TIMEOUT``, default 120)
        self.lock_timeout = lock_timeout_from_env() if lock_timeout is None else float(lock_timeout)
        self.events: list[str] = []
        self._cleaned: set[str] = set()

    @property
    def enabled(self) -> bool:
        return self.root is not None

    def drain_events(self) -> list[str]:
        """The events since the last call (and forget them)."""
        out, self.events = self.events, []
        return out

    def path(self, kind: str, key: str) -> Path:
        """The entry's file: its name hashes ``key`` with :attr:`version`, so an entry written by other
        code or libraries is never read."""
        assert self.root is not None
        return self.root / kind / f"{content_key(key, self.version)}.pt"

    def _drop(self, p: Path, kind: str, reason: str, ino: int | None) -> None:
        """Remove the entry ``p`` (unless another process has replaced it meanwhile) and say so."""
        try:
            st = p.lstat()
            if ino is None or st.st_ino == ino:
                safefiles.remove_path(p)
        except FileNotFoundError:
            pass
        except OSError as exc:  # pragma: no cover
            raise self._unusable(p.parent, exc) from None
        msg = f"robustcheck: cache entry {kind}/{p.name} {reason}; dropped it and computed it again"
        log.warning("%s", msg)
        self.events.append(msg)

    def _unusable(self, folder: Path, exc: OSError) -> CacheError:
        return CacheError(
            f"the robustcheck cache folder {folder} cannot be used ({exc.strerror or exc}); make "
            f"it a readable and writable folder or point --robustcheck-cache-dir at another folder"
        )

    def load(
        self, kind: str, key: str, validate: Callable[[Any], Any] | None = check_entry
    ) -> dict[str, Any] | None:
        """The entry, or None when it is absent; one that cannot be loaded or fails ``validate`` (raises or
        returns False) is removed and None returned (and an event recorded)."""
        if self.root is None:
            return None
        p = self.path(kind, key)
        try:
            st = p.lstat()
        except FileNotFoundError:
            return None
        except NotADirectoryError:  # a file in place of the kind folder: handled where it is created
            return None
        except OSError as exc:
            raise self._unusable(p.parent, exc) from None
        if stat.S_ISDIR(st.st_mode):
            self._drop(p, kind, "is a folder, not a file", st.st_ino)
            return None
        if not stat.S_ISREG(st.st_mode):
            self._drop(p, kind, "is not a regular file (a symlink?)", st.st_ino)
            return None
        try:
            obj = torch.load(p, map_location="cpu", weights_only=True)
        except Exception as exc:
            if isinstance(exc, PermissionError):
                raise self._unusable(p.parent, exc) from None
            text = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else ""
            self._drop(p, kind, f"cannot be loaded ({type(exc).__name__}: {text})", st.st_ino)
            return None
        reason = _invalid(obj, validate)
        if reason is not None:
            self._drop(p, kind, reason, st.st_ino)
            return None
        return obj

    def save(self, kind: str, key: str, obj: dict[str, Any]) -> None:
        if self.root is None:
            return
        atomic_write_bytes(self.path(kind, key), lambda fh: torch.save(obj, fh))

    def _folder(self, kind: str) -> Path:
        """The kind's folder, created; a file in its place is removed (and said so)."""
        assert self.root is not None
        folder = self.root / kind
        for _ in range(2):
            try:
                folder.mkdir(parents=True, exist_ok=True)
                return folder
            except FileExistsError:  # a file where the folder should be
                if not self.root.is_dir():
                    break
                safefiles.remove_path(folder)
                self.events.append(f"robustcheck: cache folder {folder} was a file; removed it")
            except OSError as exc:
                raise self._unusable(folder, exc) from None
        raise CacheError(
            f"the robustcheck cache folder {self.root} cannot be used: it is not a folder; remove "
            f"it or point --robustcheck-cache-dir at another folder"
        )

    def _clean(self, kind: str) -> None:
        """Once per process and kind: remove temp files of interrupted writes (killed processes)."""
        if kind in self._cleaned or self.root is None:
            return
        self._cleaned.add(kind)
        removed = safefiles.clean_stale_temps(self.root / kind)
        if removed:
            self.events.append(
                f"robustcheck: removed {len(removed)} temp file(s) of interrupted cache writes "
                f"in {self.root / kind}"
            )

    def lock(self, kind: str, key: str) -> EntryLock:
        """The entry's lock (not yet acquired; use ``with``); creates the kind's folder."""
        self._folder(kind)
        p = self.path(kind, key)
        return EntryLock(p.with_suffix(".lock"), f"{kind}/{p.name}", self.lock_timeout, self.events)

    def get_or_compute(
        self,
        kind: str,
        key: str,
        compute: Callable[[], dict[str, Any]],
        validate: Callable[[Any], Any] | None = check_entry,
    ) -> dict[str, Any]:
        """Return the cached entry or compute, save and return it (under the entry's lock).

        ``validate(entry)``: raises (or returns False) when a loaded entry does not have the structure
        the caller needs — e.g. :func:`state_dict_validator` for a module's weights, :func:`expect_tensors`
        for tensors of known shapes; default :func:`check_entry`. Such an entry is dropped and recomputed;
        a computed result that fails it is returned but not cached (both said so in :attr:`events`)."""
        if self.root is None:
            return compute()
        self._clean(kind)
        hit = self.load(kind, key, validate)
        if hit is not None:
            return hit
        with self.lock(kind, key):
            hit = self.load(kind, key, validate)  # another worker may have finished it meanwhile
            if hit is not None:
                return hit
            obj = compute()
            reason = _invalid(obj, validate)
            p = self.path(kind, key)
            if reason is not None:
                self.events.append(
                    f"robustcheck: the computed cache entry {kind}/{p.name} {reason}; not cached"
                )
                return obj
            try:
                self.save(kind, key, obj)
            except OSError as exc:  # disk full, permissions changed mid-run: the result is still good
                self.events.append(
                    f"robustcheck: could not write cache entry {kind}/{p.name} "
                    f"({exc.strerror or exc}); not cached"
                )
            return obj
