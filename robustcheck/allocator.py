"""Keep freed tensor memory in the process instead of handing it back to the OS (glibc only).

Why. PyTorch's CPU tensors come from ``malloc``. glibc serves a large block (above a threshold that
adapts up to 32 MiB) with a fresh ``mmap`` and returns it with ``munmap`` when it is freed; it also trims
the top of its heap once more than a little is free there. An attack step frees and re-allocates the same
activations every time, so every step faults its activations' pages in again, and the kernel zeroes each
page first. On this project's 2-core CPU that was most of the time of an attack step
(``python benchmarks/allocator.py``, one forward + input-gradient pass of the A.1 classifier, batch 250):
150 ms with glibc's defaults, of which 155 ms CPU time in the kernel, against 51 ms with the memory kept.

What. :func:`keep_freed_memory` calls ``mallopt`` twice: ``M_MMAP_MAX = 0`` (no block is served by
``mmap``: every block comes from the heap and returns to it when freed) and ``M_TRIM_THRESHOLD = 1 GiB``
(free memory at the top of the heap is kept up to 1 GiB). Arithmetic does not change: the same kernels run
on the same values, in buffers with the same alignment; only where the bytes live does. The process keeps
its peak heap resident afterwards (the memory a run needed stays allocated to it until it exits).

Where. :class:`robustcheck.engine.Engine` applies it when it is built (``malloc="keep"``, the default);
``malloc="system"`` (``--robustcheck-malloc=system``) leaves the C library as it is. A process that has not
built an engine is untouched, so a pytest run without ``--robustcheck`` is not changed. Elsewhere than on
glibc (macOS, Windows, musl) nothing is done and :func:`malloc_setting` says ``"system"``. The setting is
process-wide and cannot be undone by this module; run records say which was in force
(``machine.malloc``).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

from robustcheck.errors import ConfigError

#: ``malloc`` settings an engine accepts
MALLOC_SETTINGS = ("keep", "system")

# glibc's mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4
#: free memory kept at the top of the heap (mallopt takes an int)
TRIM_THRESHOLD = 1 << 30

_applied = False


def _glibc() -> ctypes.CDLL | None:
    """The running glibc, or None (another C library, or another OS)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.gnu_get_libc_version.restype = ctypes.c_char_p
        libc.gnu_get_libc_version()  # absent from musl: AttributeError
        libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
        libc.mallopt.restype = ctypes.c_int
    except (OSError, AttributeError):
        return None
    return libc


def keep_freed_memory() -> bool:
    """Make glibc keep freed memory for reuse (module doc). Idempotent; True when the setting is in force."""
    global _applied
    if _applied:
        return True
    libc = _glibc()
    if libc is None:
        return False
    # mallopt returns 1 on success, 0 on error
    _applied = bool(libc.mallopt(_M_MMAP_MAX, 0)) and bool(libc.mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    return _applied


def available() -> bool:
    """True where :func:`keep_freed_memory` can take effect (glibc)."""
    return _glibc() is not None


def malloc_setting() -> str:
    """``"keep"`` once :func:`keep_freed_memory` is in force in this process, else ``"system"``."""
    return "keep" if _applied else "system"


def check_malloc_setting(value: object) -> str:
    """``value`` if it names a setting (:data:`MALLOC_SETTINGS`), else one ConfigError naming it."""
    if value not in MALLOC_SETTINGS:
        raise ConfigError(f"malloc must be one of {', '.join(MALLOC_SETTINGS)}; got {value!r}")
    return str(value)
