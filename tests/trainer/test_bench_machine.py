"""The machine line beside benchmark figures names the int8 instructions the figures depend on."""

from __future__ import annotations

import pytest

from embedtune_trainer.bench.machine import describe_cpu


def _cpuinfo(name: str, flags: str) -> str:
    processor = f"processor\t: {{}}\nmodel name\t: {name}\nflags\t\t: {flags}\n\n"
    return processor.format(0) + processor.format(1)


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        ("fpu sse2 avx avx2 avx512f avx512bw avx512_vnni avx512_bf16", "AVX-512 VNNI"),
        ("fpu sse2 avx avx2 avx_vnni", "AVX-VNNI"),
        ("fpu sse2 avx avx2 avx512f avx512bw", "AVX-512 without VNNI"),
        ("fpu sse2 avx avx2 fma", "AVX2 without VNNI"),
        ("fpu sse2 avx avx2 avx512_vnni amx_int8 amx_tile", "AMX-INT8"),
    ],
)
def test_the_best_int8_instructions_are_named(flags, expected):
    assert describe_cpu(_cpuinfo("AMD EPYC", flags)) == f"AMD EPYC ({expected})"


def test_a_cpu_without_int8_vector_instructions_is_named_alone():
    assert describe_cpu(_cpuinfo("Some CPU", "fpu sse2 neon")) == "Some CPU"


def test_unreadable_cpuinfo_says_unknown():
    assert describe_cpu("") == "unknown CPU"
