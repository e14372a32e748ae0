"""EmbedService: Embed, EmbedStream, Info and Rerank (services/rerank.py does the reranking)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from embedtune_client.v1 import embedtune_pb2 as pb
from embedtune_client.v1 import embedtune_pb2_grpc as pb_grpc
from embedtune_server import __version__
from embedtune_server.batching import EmbedResult
from embedtune_server.memory import rss_bytes
from embedtune_server.services.errors import streaming, unary
from embedtune_server.settings import ServerSettings
from embedtune_server.state import StateHolder
from embedtune_server.validation import EmbedParams, embed_params
from embedtune_server.vectors import normalize_rows

if TYPE_CHECKING:
    from embedtune_server.services.rerank import Reranking

# EmbedStream works on this many requests at once and still answers in order.
_STREAM_WINDOW = 8


def timings(result: EmbedResult) -> pb.Timings:
    return pb.Timings(
        queue_us=int(result.queue_s * 1e6),
        tokenize_us=int(result.tokenize_s * 1e6),
        inference_us=int(result.inference_s * 1e6),
    )


@dataclass(frozen=True)
class Embedded:
    """An Embed answer before it is a message."""

    vectors: np.ndarray  # float32, one row per input, cut to `dimensions` and normalised if asked
    model_version: str
    result: EmbedResult  # the token counts and where the time went


def _postprocess(vectors: np.ndarray, params: EmbedParams) -> np.ndarray:
    vectors = vectors[:, : params.dimensions]
    return normalize_rows(vectors) if params.normalize else vectors


class EmbedServicer(pb_grpc.EmbedServiceServicer):
    def __init__(self, settings: ServerSettings, holder: StateHolder, reranking: Reranking) -> None:
        self._settings = settings
        self._holder = holder
        self._reranking = reranking

    async def embed(self, request: pb.EmbedRequest) -> Embedded:
        """Embed's work for both edges: gRPC answers it as an EmbedResponse, the HTTP edge
        encodes the array itself. Raises the domain errors (`services.errors.status_of`)."""
        with self._holder.lease() as state:
            params = embed_params(request, self._settings, state.backend.dimension)
            result = await state.batcher.embed(params.texts, params.truncate, params.direction)
        return Embedded(_postprocess(result.embeddings, params), state.model_version, result)

    async def _embed(self, request: pb.EmbedRequest) -> pb.EmbedResponse:
        embedded = await self.embed(request)
        return pb.EmbedResponse(
            embeddings=[pb.Embedding(values=row) for row in embedded.vectors.tolist()],
            model_version=embedded.model_version,
            timings=timings(embedded.result),
            token_counts=embedded.result.token_counts,
        )

    @unary
    async def Embed(self, request: pb.EmbedRequest, context) -> pb.EmbedResponse:
        return await self._embed(request)

    @streaming
    async def EmbedStream(self, request_iterator, context) -> AsyncIterator[pb.EmbedResponse]:
        window: list[asyncio.Task] = []
        try:
            async for request in request_iterator:
                window.append(asyncio.create_task(self._embed(request)))
                if len(window) >= _STREAM_WINDOW:
                    yield await window.pop(0)
            for task in list(window):
                yield await task
                window.remove(task)
        finally:
            for task in window:
                task.cancel()

    @unary
    async def Rerank(self, request: pb.RerankRequest, context) -> pb.RerankResponse:
        return await self._reranking.rerank(request)

    @unary
    async def Info(self, request: pb.InfoRequest, context) -> pb.InfoResponse:
        state = self._holder.current
        s = self._settings
        reranker = self._reranking.reranker
        cross_encoder = (
            {
                "cross_encoder_version": reranker.version,
                "cross_encoder_name": reranker.name,
                "cross_encoder_quantized": reranker.backend.quantized,
                "cross_encoder_max_seq_length": reranker.backend.max_seq_length,
            }
            if reranker is not None
            else {}
        )
        return pb.InfoResponse(
            model_version=state.model_version,
            model_name=state.model_name,
            dimension=state.backend.dimension,
            max_seq_length=state.backend.max_seq_length,
            normalized=state.normalized,
            quantized=state.quantized,
            limits=pb.Limits(
                max_batch_tokens=s.max_batch_tokens,
                max_batch_requests=s.max_batch_requests,
                max_concurrent_requests=s.max_concurrent_requests,
                max_client_batch_size=s.max_client_batch_size,
                max_input_chars=s.max_input_chars,
                max_search_k=s.max_search_k,
                max_metadata_entries=s.max_metadata_entries,
                max_metadata_bytes=s.max_metadata_bytes,
                max_feedback_items=s.max_feedback_items,
                max_id_bytes=s.max_id_bytes,
                max_document_chars=s.max_document_chars,
                max_response_bytes=s.max_response_bytes,
                max_request_bytes=s.max_request_bytes,
                max_rerank_candidates=s.max_rerank_candidates,
                max_rerank_chars=s.max_rerank_chars,
            ),
            index_size=state.index.size,
            index_type=state.index.description,
            server_version=__version__,
            auth_required=s.api_key is not None or s.admin_key is not None,
            rss_bytes=rss_bytes(),
            **cross_encoder,
        )
