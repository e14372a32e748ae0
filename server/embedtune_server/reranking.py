"""The cross-encoder as the services use it: (query, text) pairs in, one score each, through a batcher.

Loaded once at start-up from `--cross-encoder` and never swapped: the encoder's model
versions come and go with training, the cross-encoder stays what the flag named. Its
batcher is a second `TokenBudgetBatcher` on the same `Capacity` as the encoder's, so
reranking and embedding share one admission limit and one CPU budget.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from embedtune_server.backend.cross_encoder import CrossEncoderBackend, CrossEncoderConfigError
from embedtune_server.batching import EmbedResult, TokenBudgetBatcher
from embedtune_server.metrics import ServerMetrics
from embedtune_server.serving import Capacity
from embedtune_server.settings import ServerSettings, flag


@dataclass(frozen=True)
class PairScores:
    """Each pair's score, in pair order, and the batcher's account of where the time went."""

    scores: np.ndarray
    batch: EmbedResult


def best_first(scores: np.ndarray, top_n: int | None = None) -> list[int]:
    """Positions by score, highest first, equal scores in position order; the first `top_n`."""
    order = np.argsort(-scores, kind="stable")
    return order[:top_n].tolist()


class Reranker:
    """The loaded cross-encoder, its batcher, and what Info reports of it."""

    def __init__(self, backend: CrossEncoderBackend, batcher: TokenBudgetBatcher, name: str) -> None:
        self.backend = backend
        self._batcher = batcher
        self.name = name

    @property
    def version(self) -> str:
        return self.backend.version

    async def score(self, pairs: Sequence[tuple[str, str]]) -> PairScores:
        """The cross-encoder's score of each (query, text) pair; a long pair loses its longer side first."""
        # The batcher runs any backend: for this one an input is a pair and its output row a score.
        result = await self._batcher.embed(pairs)
        return PairScores(scores=result.embeddings, batch=result)

    async def stop(self) -> None:
        await self._batcher.stop()


async def load_reranker(
    folder: Path, settings: ServerSettings, capacity: Capacity, metrics: ServerMetrics
) -> Reranker:
    """Open the cross-encoder in `folder` and start its batcher; errors name `--cross-encoder`."""
    given = f"{flag('cross_encoder')} {settings.cross_encoder}"
    try:
        backend = await asyncio.to_thread(
            CrossEncoderBackend,
            folder,
            quantized=settings.cross_encoder_quantize,
            intra_op_threads=settings.intra_op_threads,
            streams=settings.inference_streams,
            release_memory=settings.release_batch_memory,
        )
    except (CrossEncoderConfigError, FileNotFoundError) as exc:
        raise type(exc)(f"{given}: {exc}") from exc
    batcher = TokenBudgetBatcher(
        backend.tokenizer,
        backend.infer,
        max_batch_tokens=settings.max_batch_tokens,
        max_batch_requests=settings.max_batch_requests,
        admission=capacity.admission,
        cpu=capacity.cpu,
        inference_streams=backend.streams,
        metrics=metrics,
        on_idle=backend.release_idle,
    )
    await batcher.start()
    return Reranker(backend, batcher, name=str(settings.cross_encoder))
