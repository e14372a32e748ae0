"""Small vector helpers shared by the embed path and the index path."""

from __future__ import annotations

import numpy as np

_TINY = np.finfo(np.float32).tiny


def normalize_rows(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm (zero rows stay zero), as float32.

    Each row is first divided by its largest magnitude: the squares of a finite float32
    row (a search vector of values near 3e38) overflow, and dividing by an infinite norm
    would turn the query into zeros that match every document with score 0.
    """
    vectors = np.asarray(vectors, dtype=np.float32)
    scale = np.abs(vectors).max(axis=-1, keepdims=True, initial=0.0)
    vectors = vectors / np.maximum(scale, _TINY)
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.maximum(norms, _TINY)
