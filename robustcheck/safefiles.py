"""Crash-safe files: atomic writes whose temp files name their writer, removal of stale temp files, and
the start-up check that a folder robustcheck writes to can be used. No torch import (the CLI uses it).

A temp file is ``.<target>.<pid>-<host>-<random>.tmp`` next to its target (``<host>``: 8 hex digits of
the host name's sha256). A temp file is *stale*, and removed by :func:`clean_stale_temps`, when

* its writer ran on this host and that process is gone (a killed or crashed run; a pid reused by a
  process that started after the temp file was last written counts as gone), or
* its writer ran on another host sharing the folder, and it was last modified more than
  :data:`STALE_AGE_S` seconds ago (a writer fills its temp file and renames it within seconds).

Temp files of older robustcheck versions (``.rc-XXXXXXXX.tmp``, ``.<target>.XXXXXXXX.tmp``: no pid) are
removed by the age rule alone. A temp file of a process on this host that is still running is never
removed, however old.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import shutil
import socket
import stat
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from robustcheck.errors import ConfigError

#: a temp file untouched for this long is stale whoever wrote it (a write takes seconds, not an hour)
STALE_AGE_S = 3600.0
HOST = socket.gethostname()
HOST_TAG = hashlib.sha256(HOST.encode()).hexdigest()[:8]
TEMP_RE = re.compile(r"^\.(?P<target>.+)\.(?P<pid>\d+)-(?P<host>[0-9a-f]{8})-[A-Za-z0-9_]+\.tmp$")
LEGACY_TEMP_RE = re.compile(r"^\.(rc-[A-Za-z0-9_]{8}|.+\.[A-Za-z0-9_]{8})\.tmp$")


# ---------------------------------------------------------------------------- processes
def process_start(pid: int) -> str | None:
    """The start time of process ``pid`` in clock ticks since boot (Linux ``/proc``), or None."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rfind(")") + 2 :].split()  # after "pid (comm) "; comm may hold spaces
    return fields[19] if len(fields) > 19 else None


def process_start_epoch(pid: int) -> float | None:
    """When process ``pid`` started, in seconds since the epoch (Linux ``/proc``), or None."""
    start = process_start(pid)
    if start is None:
        return None
    try:
        btime = next(
            float(line.split()[1])
            for line in Path("/proc/stat").read_text().splitlines()
            if line.startswith("btime ")
        )
        return btime + int(start) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, StopIteration):  # pragma: no cover
        return None


def pid_alive(pid: int, start: str | None = None) -> bool:
    """Whether process ``pid`` runs on this host (a zombie counts as gone). With ``start`` (from
    :func:`process_start` when it was recorded), a reused pid counts as gone too."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        pass
    except OSError:  # pragma: no cover
        return True
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    except OSError:  # no /proc (macOS): os.kill said it exists
        return True
    fields = raw[raw.rfind(")") + 2 :].split()
    if fields and fields[0] in ("Z", "X"):  # zombie / dead, not yet reaped
        return False
    # with the recorded start time, a reused pid (another process) counts as gone
    return start is None or len(fields) <= 19 or fields[19] == start


def command_line(pid: int | None = None) -> str:
    """The command line of ``pid`` (default: this process), shortened to 300 characters."""
    pid = os.getpid() if pid is None else pid
    try:
        cmd = (
            Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\x00", b" ").decode(errors="replace").strip()
        )
    except OSError:
        import sys

        cmd = " ".join(sys.argv) if pid == os.getpid() else "?"
    return cmd if len(cmd) <= 300 else cmd[:297] + "..."


# ---------------------------------------------------------------------------- atomic writes
def make_temp(folder: Path, target: str) -> tuple[int, str]:
    """``(fd, path)`` of a new temp file for ``target`` in ``folder``, named after this process (see the
    module doc) and with ordinary permissions (mkstemp creates 0600)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{target}.{os.getpid()}-{HOST_TAG}-", suffix=".tmp", dir=folder)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
    except BaseException:
        os.close(fd)
        Path(tmp).unlink(missing_ok=True)
        raise
    return fd, tmp


def write_temp(folder: Path, target: str, write: Callable[[Any], None]) -> str:
    """Call ``write(fileobj)`` on a new fsynced temp file for ``target`` in ``folder``; its path."""
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = make_temp(folder, target)
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return tmp


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover  (Windows)
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def publish_temp(tmp: str | os.PathLike[str], path: Path, *, exclusive: bool = False) -> None:
    """Put the complete temp file ``tmp`` (from :func:`write_temp`, in ``path``'s folder) in place as
    ``path`` in one step, so a reader sees no file or the whole one, and consume it. Renamed over
    ``path``; with ``exclusive``, hard-linked to it instead, which never replaces a file: FileExistsError
    when ``path`` exists (``tmp`` is left for the caller to retry under another name), and a rename where
    the file system has no hard links. On any other failure ``tmp`` is left for the caller to remove."""
    if exclusive:
        try:
            os.link(tmp, path)
        except FileExistsError:
            raise
        except OSError:  # no hard links on this file system: rename instead
            os.replace(tmp, path)
        else:
            Path(tmp).unlink(missing_ok=True)
    else:
        os.replace(tmp, path)
    _fsync_dir(Path(path).parent)


def atomic_write_bytes(path: Path, write: Callable[[Any], None]) -> None:
    """Call ``write(fileobj)`` on a temp file in ``path``'s folder, then rename it over ``path``: a reader
    sees the old file or the complete new one; a killed writer leaves a temp file that
    :func:`clean_stale_temps` removes."""
    path = Path(path)
    tmp = write_temp(path.parent, path.name, write)
    try:
        publish_temp(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write(path: Path, blob: bytes) -> None:
    """Replace ``path`` with ``blob`` atomically (temp file + rename)."""
    atomic_write_bytes(Path(path), lambda fh: fh.write(blob))


# ---------------------------------------------------------------------------- stale temp files
def is_stale_temp(path: Path, now: float | None = None) -> bool:
    """Whether ``path`` is a temp file of an interrupted robustcheck write (see the module doc)."""
    name = path.name
    m = TEMP_RE.match(name)
    if m is None and LEGACY_TEMP_RE.match(name) is None:
        return False
    try:
        st = path.lstat()
    except OSError:
        return False
    if not stat.S_ISREG(st.st_mode):
        return False
    if m is not None and m.group("host") == HOST_TAG:
        pid = int(m.group("pid"))
        if not pid_alive(pid):
            return True
        started = process_start_epoch(pid)  # a reused pid: that process started after the write
        return started is not None and started > st.st_mtime + 2
    now = time.time() if now is None else now
    return now - st.st_mtime > STALE_AGE_S


def clean_stale_temps(
    folder: str | os.PathLike[str] | None, *, depth: int = 0, targets: Iterable[str] | None = None
) -> list[Path]:
    """Remove the stale temp files in ``folder`` (and ``depth`` levels of subfolders); with ``targets``,
    only temp files of those file names. Returns what was removed; never raises."""
    if folder is None:
        return []
    wanted = set(targets) if targets is not None else None
    removed: list[Path] = []
    now = time.time()
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for e in entries:
        try:
            if e.is_dir(follow_symlinks=False):
                if depth > 0:
                    removed += clean_stale_temps(e.path, depth=depth - 1, targets=targets)
                continue
        except OSError:
            continue
        if not e.name.endswith(".tmp"):
            continue
        p = Path(e.path)
        if wanted is not None:
            m = TEMP_RE.match(e.name)
            if m is None or m.group("target") not in wanted:
                continue
        if is_stale_temp(p, now):
            try:
                p.unlink()
                removed.append(p)
            except OSError:
                pass
    return removed


def remove_path(path: Path) -> None:
    """Remove a file, symlink or folder tree at ``path`` (missing is fine)."""
    try:
        st = path.lstat()
    except FileNotFoundError:
        return
    if stat.S_ISDIR(st.st_mode):
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


# ---------------------------------------------------------------------------- folders
def _probe(folder: Path) -> None:
    """Create, list and delete a file in ``folder`` (raises OSError where that is not possible)."""
    fd, tmp = make_temp(folder, "probe")
    try:
        os.write(fd, b"robustcheck")
    finally:
        os.close(fd)
        os.unlink(tmp)
    os.listdir(folder)


def check_folder(path: str | os.PathLike[str], what: str, option: str, *, subfolders: bool = False) -> Path:
    """Make sure robustcheck can use ``path`` as its ``what`` folder: an existing or creatable folder that
    this process can list, write and delete in (with ``subfolders``, its existing subfolders too). One
    :class:`ConfigError` naming the folder and the fix (``option`` is the setting that moves it) otherwise.
    Creates the folder."""
    p = Path(path)
    hint = f"or point {option} at another folder"
    for part in (p, *p.parents):
        if os.path.lexists(part):
            if not part.is_dir():
                which = "it" if part == p else f"{part}"
                raise ConfigError(
                    f"the robustcheck {what} folder {p} cannot be used: {which} is a file, not a "
                    f"folder; remove or rename {part} {hint}"
                )
            break
    current = p
    try:
        p.mkdir(parents=True, exist_ok=True)
        _probe(p)
        if subfolders:
            for e in os.scandir(p):
                if e.is_dir(follow_symlinks=False):
                    current = Path(e.path)
                    _probe(current)
    except OSError as exc:
        why = exc.strerror or str(exc)
        where = f"folder {p}" if current == p else f"folder {p} (its subfolder {current.name})"
        if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            fix = f"make it readable and writable (chmod -R u+rwX {p}) {hint}"
        else:
            fix = f"fix it {hint}"
        raise ConfigError(f"the robustcheck {what} {where} cannot be used ({why}); {fix}") from None
    return p
