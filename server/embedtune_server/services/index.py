"""IndexService: Upsert, Delete, Get, Count, Search and BatchSearch."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import TYPE_CHECKING

import numpy as np

from embedtune_client.v1 import embedtune_pb2 as pb
from embedtune_client.v1 import embedtune_pb2_grpc as pb_grpc
from embedtune_server import response_size
from embedtune_server.corpus import Corpus, Hit
from embedtune_server.index.base import SearchHits
from embedtune_server.services.embed import timings
from embedtune_server.services.errors import unary
from embedtune_server.settings import ServerSettings
from embedtune_server.state import ServingState, StateHolder
from embedtune_server.store.documents import Document
from embedtune_server.validation import SearchQuery, check_ids, search_queries, search_query, upsert_documents

if TYPE_CHECKING:
    from embedtune_server.services.rerank import Reranking


def _document(document: Document) -> pb.Document:
    return pb.Document(id=document.id, text=document.text, metadata=document.metadata)


def _added(a: pb.Timings, b: pb.Timings) -> pb.Timings:
    """Stage times of two steps of one request (embedding the query, then reranking), summed."""
    return pb.Timings(
        queue_us=a.queue_us + b.queue_us,
        tokenize_us=a.tokenize_us + b.tokenize_us,
        inference_us=a.inference_us + b.inference_us,
    )


def _hits(hits: list[Hit], query: SearchQuery) -> list[pb.Hit]:
    return [
        pb.Hit(
            id=h.document.id,
            score=h.score,
            text=h.document.text if query.include_text else "",
            metadata=h.document.metadata if query.include_metadata else None,
        )
        for h in hits
    ]


class IndexServicer(pb_grpc.IndexServiceServicer):
    def __init__(
        self, settings: ServerSettings, holder: StateHolder, corpus: Corpus, reranking: Reranking
    ) -> None:
        self._settings = settings
        self._holder = holder
        self._corpus = corpus
        self._reranking = reranking

    @unary
    async def Upsert(self, request: pb.UpsertRequest, context) -> pb.UpsertResponse:
        """Embed, then write with the version that embedded, if it is still live.

        A swap that lands while the documents are embedded makes the vectors belong to a
        retired version: they are embedded again with the new one, so the live index
        never holds another version's vectors.
        """
        documents = upsert_documents(request, self._settings)
        texts = [d.text for d in documents]
        while True:
            with self._holder.lease() as state:
                result = await state.batcher.embed(texts)
                async with self._corpus.write_lock:
                    if state is self._holder.current:
                        upserted = await asyncio.to_thread(
                            self._corpus.upsert, state, documents, result.embeddings
                        )
                        return pb.UpsertResponse(upserted=upserted, model_version=state.model_version)

    @unary
    async def Delete(self, request: pb.DeleteRequest, context) -> pb.DeleteResponse:
        ids = check_ids("ids", request.ids, self._settings)
        async with self._corpus.write_lock:
            deleted = await asyncio.to_thread(
                self._corpus.delete, self._holder.current, ids, request.ignore_missing
            )
        return pb.DeleteResponse(deleted=deleted)

    @unary
    async def Get(self, request: pb.GetRequest, context) -> pb.GetResponse:
        ids = check_ids("ids", request.ids, self._settings)
        documents = await asyncio.to_thread(self._corpus.documents.get, ids)
        return pb.GetResponse(documents=[_document(d) for d in documents])

    @unary
    async def Count(self, request: pb.CountRequest, context) -> pb.CountResponse:
        return pb.CountResponse(count=await asyncio.to_thread(self._corpus.documents.count))

    @unary
    async def Search(self, request: pb.SearchRequest, context) -> pb.SearchResponse:
        with self._holder.lease() as state:
            query = search_query(request, self._settings, state.backend.dimension)
            [response] = await self._search("Search", state, [query])
            return response

    @unary
    async def BatchSearch(self, request: pb.BatchSearchRequest, context) -> pb.BatchSearchResponse:
        with self._holder.lease() as state:
            queries = search_queries(request, self._settings, state.backend.dimension)
            responses = await self._search("BatchSearch", state, queries)
            return pb.BatchSearchResponse(results=responses, model_version=state.model_version)

    async def _search(
        self, rpc: str, state: ServingState, queries: list[SearchQuery]
    ) -> list[pb.SearchResponse]:
        """Embed every text query in one batcher call, search each, then rerank those with `rerank_top_k`."""
        reranked = any(q.rerank_top_k is not None for q in queries)
        if reranked:
            self._reranking.require("rerank_top_k")
        vectors = np.zeros((len(queries), state.backend.dimension), dtype=np.float32)
        texts = [(i, q.text) for i, q in enumerate(queries) if q.text is not None]
        response_timings = pb.Timings()
        if texts:
            result = await state.batcher.embed([t for _, t in texts])
            vectors[[i for i, _ in texts]] = result.embeddings
            response_timings = timings(result)
        for i, q in enumerate(queries):
            if q.vector is not None:
                vectors[i] = q.vector
        hits = await asyncio.to_thread(self._search_each, state, queries, vectors)
        if reranked:
            hits, rerank_timings = await self._reranking.rerank_hits(rpc, queries, hits)
            response_timings = _added(response_timings, rerank_timings)
        return [
            pb.SearchResponse(hits=_hits(h, q), model_version=state.model_version, timings=response_timings)
            for h, q in zip(hits, queries, strict=True)
        ]

    def _search_each(
        self, state: ServingState, queries: list[SearchQuery], vectors: np.ndarray
    ) -> list[list[Hit]]:
        """Queries that find as many and share a filter go through one filter lookup and FAISS
        call; then the response's size is checked, and all documents come in one fetch (with
        their texts when a query shows them or the cross-encoder reads them)."""
        groups: dict[tuple[int, frozenset[tuple[str, str]]], list[int]] = defaultdict(list)
        for i, q in enumerate(queries):
            groups[(q.retrieve_k, frozenset(q.metadata_filter.items()))].append(i)
        found: list[SearchHits] = [SearchHits(np.zeros(0, np.int64), np.zeros(0, np.float32))] * len(queries)
        for members in groups.values():
            first = queries[members[0]]
            nearest = self._corpus.nearest(state, vectors[members], first.retrieve_k, first.metadata_filter)
            for i, query_hits in zip(members, nearest, strict=True):
                found[i] = query_hits
        self._check_response_size(state, queries, found)
        return self._corpus.hits(
            found,
            any(q.include_text or q.rerank_top_k for q in queries),
            any(q.include_metadata for q in queries),
        )

    def _check_response_size(
        self, state: ServingState, queries: list[SearchQuery], found: list[SearchHits]
    ) -> None:
        """Refuse past `max_response_bytes` before any document is read: against the largest
        documents the settings allow, and if that does not fit, against the stored sizes.
        A reranked query is counted with every document it retrieved (its best `k` are not
        known yet), so the check stays an upper bound."""
        limit = self._settings.max_response_bytes
        worst = response_size.worst_hit(self._settings)
        if (
            response_size.response_bytes(queries, [hits.ids for hits in found], worst, state.model_version)
            <= limit
        ):
            return
        ids = [[int(i) for i in hits.ids] for hits in found]
        sizes = self._corpus.documents.sizes(sorted({i for row in ids for i in row}))
        size = response_size.response_bytes(queries, ids, sizes, state.model_version)
        response_size.refuse_past_limit(queries, size, limit)
