"""The server process's memory: what it holds now, and giving back what a batch freed.

An inference batch needs memory in proportion to its padded tokens (and attention to
inputs x longest squared), far more than the server holds between batches. Freed, that
memory stays with the process unless it is handed back: ONNX Runtime's arena keeps its
chunks, and glibc keeps freed heap pages. docs/architecture.md, "Memory", has the model.
"""

from __future__ import annotations

import ctypes
import functools
import time

_STATUS = "/proc/self/status"


def _status_bytes(field: str, pid: int | None) -> int:
    """A size field of /proc/PID/status (this process when `pid` is None); 0 where /proc is not available."""
    try:
        with open(_STATUS if pid is None else f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def rss_bytes(pid: int | None = None) -> int:
    """Resident set size (VmRSS) of this process, or of `pid`; 0 where /proc is not available."""
    return _status_bytes("VmRSS", pid)


def peak_rss_bytes(pid: int | None = None) -> int:
    """The largest resident set size (VmHWM) this process, or `pid`, has had so far."""
    return _status_bytes("VmHWM", pid)


def settled_rss_bytes(pid: int, quiet_s: float = 0.3, deadline_s: float = 20) -> int:
    """`pid`'s resident memory once it has stopped falling for `quiet_s` (or at `deadline_s`).

    A server hands batch memory back a moment after the results go out, so a reading taken the
    moment a call returns may precede it (tests and benchmarks read memory this way).
    """
    lowest = rss_bytes(pid)
    since = time.monotonic()
    deadline = since + deadline_s
    while time.monotonic() < deadline and time.monotonic() - since < quiet_s:
        time.sleep(0.02)
        now = rss_bytes(pid)
        if now < lowest:
            lowest, since = now, time.monotonic()
    return rss_bytes(pid)


@functools.cache
def _malloc_trim():
    """glibc's malloc_trim, or None under another C library."""
    trim = getattr(ctypes.CDLL(None), "malloc_trim", None)
    if trim is not None:
        trim.argtypes = [ctypes.c_size_t]
        trim.restype = ctypes.c_int
    return trim


def trim_heap() -> None:
    """Hand the C heap's free pages back to the system (glibc); a no-op elsewhere."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
