"""What a benchmark ran on, written beside its figures."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def machine() -> str:
    """The CPU model and core count, which the figures depend on."""
    cpu = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return f"{cpu}, {os.cpu_count()} cores"
