"""Building a serving state: the one function start-up and a model swap share.

A state is complete before anyone can use it: the backend's sessions loaded, the
batcher's streams running, and its index open and up to date with the store (loaded
from disk and caught up, or rebuilt). Every state's batcher draws on the same
`Capacity`, so old and new states alive during a swap share one admission limit and
one CPU budget.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from embedtune_server.batching import TokenBudgetBatcher
from embedtune_server.capacity import Admission, CpuBudget
from embedtune_server.corpus import Corpus, EmbedFn
from embedtune_server.index.faiss_index import FaissIndex
from embedtune_server.metrics import ServerMetrics
from embedtune_server.settings import ServerSettings, flag
from embedtune_server.spaces import space_of
from embedtune_server.state import EmbeddingBackend, ServingState
from embedtune_server.store.models import ModelRecord

log = logging.getLogger(__name__)

# FAISS prefixes its errors with the C++ function and source line, which tell a user nothing.
_FAISS_LOCATION = re.compile(r"^Error in .* at \S+:\d+: ")

BackendFactory = Callable[[Path, ServerSettings], EmbeddingBackend]


def onnx_backend(folder: Path, settings: ServerSettings) -> EmbeddingBackend:
    from embedtune_server.backend.onnx_backend import OnnxBackend

    return OnnxBackend(
        folder,
        quantized=settings.quantize,
        intra_op_threads=settings.intra_op_threads,
        streams=settings.inference_streams,
        release_memory=settings.release_batch_memory,
    )


def embedder(batcher: TokenBudgetBatcher) -> EmbedFn:
    """Texts to vectors through `batcher`, for filling a space from the store."""

    async def embed(texts: list[str]) -> np.ndarray:
        return (await batcher.embed(texts)).embeddings

    return embed


def check_index_settings(settings: ServerSettings, dimension: int) -> None:
    """Build an empty index (without, then with the search parameters), so a factory string or
    search parameters FAISS refuses for this dimension stop the server with one line naming
    the flag, not a FAISS traceback."""
    checks = [("index_factory", "")]
    if settings.index_search_params:
        checks.append(("index_search_params", settings.index_search_params))
    for name, search_params in checks:
        try:
            FaissIndex(dimension, settings.index_factory, settings.index_train_size, search_params)
        except RuntimeError as exc:
            reason = " ".join(_FAISS_LOCATION.sub("", str(exc)).split())
            raise ValueError(
                f"{flag(name)} {getattr(settings, name)!r}: FAISS refuses it"
                f" ({settings.index_factory} over {dimension} dimensions): {reason}"
            ) from exc


@dataclass(frozen=True)
class Capacity:
    admission: Admission
    cpu: CpuBudget

    @classmethod
    def for_settings(cls, settings: ServerSettings, metrics: ServerMetrics) -> Capacity:
        from embedtune_server.backend.onnx_backend import resolve_parallelism

        streams, _ = resolve_parallelism(settings.inference_streams, settings.intra_op_threads)
        return cls(Admission(settings.max_concurrent_requests, metrics), CpuBudget(streams))


class StateBuilder:
    """Makes `ServingState`s for model versions; holds what every state shares."""

    def __init__(
        self,
        settings: ServerSettings,
        corpus: Corpus,
        capacity: Capacity,
        metrics: ServerMetrics,
        backend_factory: BackendFactory = onnx_backend,
    ) -> None:
        self._settings = settings
        self._corpus = corpus
        self._capacity = capacity
        self._metrics = metrics
        self._backend_factory = backend_factory

    async def build(self, model: ModelRecord) -> ServingState:
        settings = self._settings
        backend = await asyncio.to_thread(self._backend_factory, model.folder, settings)
        check_index_settings(settings, backend.dimension)
        batcher = TokenBudgetBatcher(
            backend.tokenizer,
            backend.infer,
            max_batch_tokens=settings.max_batch_tokens,
            max_batch_requests=settings.max_batch_requests,
            admission=self._capacity.admission,
            cpu=self._capacity.cpu,
            inference_streams=backend.streams,
            on_idle=backend.release_idle,
            metrics=self._metrics,
        )
        await batcher.start()
        space = space_of(model.version, settings.quantize)
        try:
            index = await self._corpus.open_index(space, backend.dimension, embedder(batcher))
        except BaseException:
            await batcher.stop()
            raise
        return ServingState(
            model_version=model.version,
            model_name=model.base_model,
            model_dir=model.folder,
            space=space,
            backend=backend,
            batcher=batcher,
            index=index,
            normalized=backend.normalized,
            quantized=settings.quantize,
        )

    async def catch_up(self, state: ServingState) -> None:
        """Bring a state that is not live yet up to date with the store's latest writes."""
        if not await self._corpus.catch_up(state.space, state.index, embedder(state.batcher)):
            raise RuntimeError(f"the change log no longer reaches back to {state.space}'s index")

    @staticmethod
    async def release(state: ServingState) -> None:
        """Once no request holds a retired state, stop its batcher; its sessions go with it."""
        await state.drained()
        await state.batcher.stop()
        log.info("released %s", state.space)
