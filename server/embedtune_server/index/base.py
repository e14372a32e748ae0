"""The interface the server needs from a vector index.

Kept narrow (add, remove, search with an optional allow-list, save, load, size) so
FAISS in-process can be replaced by a distributed vector database without touching
the services.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple, Protocol

import numpy as np


class SearchHits(NamedTuple):
    """Best first; at most k, fewer when fewer vectors are allowed."""

    ids: np.ndarray
    scores: np.ndarray


class VectorIndex(Protocol):
    dimension: int

    @property
    def description(self) -> str: ...

    @property
    def size(self) -> int: ...

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None: ...

    def remove(self, ids: np.ndarray) -> None: ...

    def search(self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None) -> list[SearchHits]: ...

    def save(self, folder: Path, write_seq: int) -> None: ...
