"""Embedding spaces: which model version and which of its graphs made a vector.

The fp32 and int8 graphs of one version give slightly different vectors, so they are
two spaces: stored embeddings, saved indexes and re-embedding decisions are keyed by
the space, never by the version alone.
"""

from __future__ import annotations

FP32 = "fp32"
INT8 = "int8"


def space_of(version: str, quantized: bool) -> str:
    return f"{version}:{INT8 if quantized else FP32}"


def version_of_space(space: str) -> str:
    return space.rpartition(":")[0]


def folder_name(space: str) -> str:
    """The space as a folder name under home/index/ (no ':' in paths)."""
    version, _, graph = space.rpartition(":")
    return f"{version}-{graph}"
