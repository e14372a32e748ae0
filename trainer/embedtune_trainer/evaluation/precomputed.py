"""Embed a fixed set of texts once, then serve those embeddings to several evaluators.

Evaluators over the same held-out data share most of their texts (a triplet's anchor is
also a retrieval query, its positive a retrieval document). Embedding each distinct text
once, in chunks that report progress, costs one pass instead of one per evaluator and
lets a caller show how far it got.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from embedtune_trainer.evaluation.evaluators import Encoder

CHUNK = 256  # texts per progress report


class PrecomputedEncoder:
    """An `Encoder` that looks embeddings up instead of computing them."""

    def __init__(self, texts: Sequence[str], embeddings: np.ndarray) -> None:
        if len(texts) != len(embeddings):
            raise ValueError(f"{len(texts)} texts but {len(embeddings)} embeddings")
        self._rows = {text: row for row, text in enumerate(texts)}
        self._embeddings = np.asarray(embeddings, dtype=np.float32)

    @classmethod
    def embed(
        cls,
        encoder: Encoder,
        texts: Sequence[str],
        batch_size: int = 64,
        on_progress: Callable[[int], None] | None = None,
    ) -> PrecomputedEncoder:
        """Embed every distinct text of `texts` with `encoder`; `on_progress(texts done)` after each chunk."""
        unique = list(dict.fromkeys(texts))
        chunks = []
        for start in range(0, len(unique), CHUNK):
            chunks.append(encoder.encode(unique[start : start + CHUNK], batch_size=batch_size))
            if on_progress is not None:
                on_progress(min(start + CHUNK, len(unique)))
        return cls(unique, np.concatenate(chunks) if chunks else np.zeros((0, 0), dtype=np.float32))

    def encode(self, texts: Sequence[str], batch_size: int = 64, normalize: bool = False) -> np.ndarray:
        missing = next((t for t in texts if t not in self._rows), None)
        if missing is not None:
            raise ValueError(f"text {missing[:60]!r} was not embedded beforehand")
        embeddings = self._embeddings[[self._rows[t] for t in texts]]
        if normalize:
            norms = np.linalg.norm(embeddings, axis=1, keepdims=True)
            embeddings = embeddings / np.maximum(norms, 1e-12)
        return embeddings
