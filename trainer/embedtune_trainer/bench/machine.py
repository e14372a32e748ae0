"""What a benchmark ran on, written beside its figures."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

# The int8 instruction sets ONNX Runtime's GEMM kernels choose between, best first, by the
# /proc/cpuinfo flag that announces each. With VNNI an int8 multiply-add is one instruction;
# without it AVX2 needs two, so the same int8 graph runs at a different share of fp32's time.
_INT8_INSTRUCTIONS = (
    ("amx_int8", "AMX-INT8"),
    ("avx512_vnni", "AVX-512 VNNI"),
    ("avx_vnni", "AVX-VNNI"),
    ("avx512bw", "AVX-512 without VNNI"),
    ("avx2", "AVX2 without VNNI"),
)


def describe_cpu(cpuinfo: str) -> str:
    """'<model name> (<int8 instructions>)' from the text of /proc/cpuinfo."""
    fields: dict[str, str] = {}  # the first processor's, as every core reports the same
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())
    name = fields.get("model name", "unknown CPU")
    flags = set(fields.get("flags", "").split())
    int8 = next((label for flag, label in _INT8_INSTRUCTIONS if flag in flags), None)
    return f"{name} ({int8})" if int8 else name


def machine() -> str:
    """The CPU model, its int8 instructions and the core count, which the figures depend on."""
    cpuinfo = ""
    with contextlib.suppress(OSError):
        cpuinfo = Path("/proc/cpuinfo").read_text()
    return f"{describe_cpu(cpuinfo)}, {os.cpu_count()} cores"
