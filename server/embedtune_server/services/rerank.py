"""Rerank, and the reranking step of Search and BatchSearch: cross-encoder scores as ordered results."""

from __future__ import annotations

import asyncio

from embedtune_client.v1 import embedtune_pb2 as pb
from embedtune_server.corpus import Corpus, Hit
from embedtune_server.jobs.runner import PreconditionError
from embedtune_server.metrics import ServerMetrics
from embedtune_server.reranking import PairScores, Reranker, best_first
from embedtune_server.services.embed import timings
from embedtune_server.settings import ServerSettings, flag
from embedtune_server.validation import RerankParams, SearchQuery, rerank_params


class Reranking:
    """What the servicers call to rerank; the cross-encoder is None when the server has none."""

    def __init__(
        self, settings: ServerSettings, corpus: Corpus, reranker: Reranker | None, metrics: ServerMetrics
    ) -> None:
        self._settings = settings
        self._corpus = corpus
        self.reranker = reranker
        self._metrics = metrics

    def require(self, what: str) -> Reranker:
        """The cross-encoder, or FAILED_PRECONDITION saying how to load one."""
        if self.reranker is None:
            raise PreconditionError(
                f"{what} needs a cross-encoder and none is loaded: start the server with"
                f" {flag('cross_encoder')} DIR (a sentence-transformers CrossEncoder folder or Hub id)"
            )
        return self.reranker

    async def rerank(self, request: pb.RerankRequest) -> pb.RerankResponse:
        reranker = self.require("Rerank")
        params = rerank_params(request, self._settings)
        texts = await self._candidate_texts(params)
        scored = await self._score("Rerank", reranker, [(params.query, text) for text in texts])
        results = [
            pb.RerankResult(
                index=i,
                id=params.ids[i] or "",
                score=float(scored.scores[i]),
                text=texts[i] if params.return_text else "",
            )
            for i in best_first(scored.scores, params.top_n)
        ]
        return pb.RerankResponse(
            results=results, cross_encoder_version=reranker.version, timings=timings(scored.batch)
        )

    async def rerank_hits(
        self, rpc: str, queries: list[SearchQuery], hits: list[list[Hit]]
    ) -> tuple[list[list[Hit]], pb.Timings]:
        """Each reranked query's hits scored by the cross-encoder and cut to its `k`, all pairs in
        one batcher call; the other queries' hits as they are."""
        reranker = self.require("rerank_top_k")
        reranked = [i for i, q in enumerate(queries) if q.rerank_top_k is not None and hits[i]]
        pairs = [(queries[i].text, hit.document.text) for i in reranked for hit in hits[i]]
        if not pairs:
            return hits, pb.Timings()
        scored = await self._score(rpc, reranker, pairs)
        out = list(hits)
        start = 0
        for i in reranked:
            scores = scored.scores[start : start + len(hits[i])]
            start += len(hits[i])
            out[i] = [Hit(hits[i][j].document, float(scores[j])) for j in best_first(scores, queries[i].k)]
        return out, timings(scored.batch)

    async def _score(self, rpc: str, reranker: Reranker, pairs: list[tuple[str, str]]) -> PairScores:
        scored = await reranker.score(pairs)
        self._metrics.rerank_pairs.labels(rpc).inc(len(pairs))
        return scored

    async def _candidate_texts(self, params: RerankParams) -> list[str]:
        """Every candidate's text: given inline, or the stored document's (NOT_FOUND naming unknown ids)."""
        ids = [doc_id for doc_id in params.ids if doc_id is not None]
        documents = await asyncio.to_thread(self._corpus.documents.get, ids, "candidates") if ids else []
        stored = iter(documents)
        return [text if text is not None else next(stored).text for text in params.texts]
