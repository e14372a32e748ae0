"""The plan of every client method: validate, build requests, chunk, parse.

`Operations` is the one place the client's behaviour lives; `Client` and
`AsyncClient` run its plans. It caches the server's `Info` (for the limits that
decide chunk sizes) per client, so only the first chunked call pays for it.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from embedtune_client.contract import FEEDBACK_KINDS
from embedtune_client.core import calls, convert, health, validation, watch
from embedtune_client.core.calls import Call, Plan, Rpc
from embedtune_client.core.retry import RetryPolicy
from embedtune_client.core.validation import UINT32_MAX, optional
from embedtune_client.errors import ModelVersionMismatchError
from embedtune_client.feedback import DocumentRef, FeedbackItem, TextLike
from embedtune_client.results import (
    Document,
    EmbedResult,
    Job,
    ModelVersion,
    RerankResults,
    SearchResults,
    ServerInfo,
    UpsertResult,
)
from embedtune_client.v1 import embedtune_pb2 as pb

# A model swap between two chunks of one embed call mixes versions; re-embedding the
# whole call this many times more is enough unless swaps come back to back.
EMBED_VERSION_RETRIES = 2
_TRUNCATION = {
    "right": pb.TRUNCATION_DIRECTION_RIGHT,
    "left": pb.TRUNCATION_DIRECTION_LEFT,
}


def chunks(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    """`items` cut into consecutive slices of at most `size` (all of it when `size` is 0)."""
    if not size or len(items) <= size:
        return [items] if items else []
    return [items[start : start + size] for start in range(0, len(items), size)]


def _single(rpc: Rpc, request: Any) -> Plan[Any]:
    (response,) = yield [Call(rpc, request)]
    return response


class Operations:
    """Builds the plans; holds the server's `Info` once fetched.

    `retry` and `rng` pace a watch's re-subscriptions, as the transports pace retries.
    """

    def __init__(self, retry: RetryPolicy | None = None, rng: random.Random | None = None) -> None:
        self._info: ServerInfo | None = None
        self._retry = retry or RetryPolicy()
        self._rng = rng or random.Random()

    # ------------------------------------------------------------------ server

    def info(self) -> Plan[ServerInfo]:
        """Fetch the server's model and limits (and refresh the cached copy)."""
        self._info = convert.server_info((yield from _single(calls.INFO, pb.InfoRequest())))
        return self._info

    def _cached_info(self) -> Plan[ServerInfo]:
        if self._info is None:
            return (yield from self.info())
        return self._info

    def health(self, service: str) -> Plan[str]:
        if not isinstance(service, str):
            raise TypeError(f"service must be a str, got {type(service).__name__}")
        response = yield from _single(calls.HEALTH_CHECK, health.HealthCheckRequest(service=service))
        return health.status_name(response.status)

    # --------------------------------------------------------------- embedding

    def embed(
        self,
        texts: Iterable[str],
        normalize: bool = True,
        dimensions: int | None = None,
        truncate: bool = True,
        truncation_direction: str = "right",
    ) -> Plan[EmbedResult]:
        """Embed in chunks of the server's `max_client_batch_size`, all sent at once."""
        inputs = validation.str_list("texts", texts)
        if dimensions is not None:
            dimensions = validation.positive_int("dimensions", dimensions)
        if truncation_direction not in _TRUNCATION:
            raise ValueError(
                f"truncation_direction must be one of {sorted(_TRUNCATION)}, got {truncation_direction!r}"
            )
        info = yield from self._cached_info()
        validation.text_lengths("texts", inputs, info.limits.max_input_chars)
        if dimensions is not None and info.dimension and dimensions > info.dimension:
            raise ValueError(
                f"dimensions must be at most the model's dimension {info.dimension}, got {dimensions}"
            )
        requests = [
            pb.EmbedRequest(
                inputs=chunk,
                normalize=bool(normalize),
                truncate=bool(truncate),
                truncation_direction=_TRUNCATION[truncation_direction],
                dimensions=dimensions,
            )
            for chunk in chunks(inputs, info.limits.max_client_batch_size)
        ]
        for _ in range(1 + EMBED_VERSION_RETRIES):
            responses = yield [Call(calls.EMBED, request) for request in requests]
            versions = {response.model_version for response in responses}
            if len(versions) <= 1:
                return convert.embed_result(responses, dimensions or info.dimension)
        raise ModelVersionMismatchError(versions)

    # --------------------------------------------------------------- documents

    def upsert(
        self, ids: Iterable[str], texts: Iterable[str], metadata: Sequence[Mapping[str, str]] | None
    ) -> Plan[UpsertResult]:
        """Write in chunks of `max_client_batch_size`, sent at once (ids are unique, so order is free)."""
        id_values = validation.id_list("ids", ids)
        text_values = validation.str_list("texts", texts)
        validation.same_length("ids", id_values, "texts", text_values)
        validation.unique("ids", id_values)
        metadata_values = validation.metadata_list(metadata, len(id_values))
        documents = [
            pb.Document(id=i, text=t, metadata=m)
            for i, t, m in zip(id_values, text_values, metadata_values, strict=True)
        ]
        size = yield from self._chunk_size(len(documents), "max_client_batch_size")
        responses = yield [
            Call(calls.UPSERT, pb.UpsertRequest(documents=chunk)) for chunk in chunks(documents, size)
        ]
        return UpsertResult(
            upserted=sum(r.upserted for r in responses),
            model_version=responses[-1].model_version if responses else "",
        )

    def delete(self, ids: Iterable[str], ignore_missing: bool) -> Plan[int]:
        id_values = validation.id_list("ids", ids)
        if not id_values:
            return 0
        response = yield from _single(
            calls.DELETE, pb.DeleteRequest(ids=id_values, ignore_missing=bool(ignore_missing))
        )
        return response.deleted

    def get(self, ids: Iterable[str]) -> Plan[list[Document]]:
        """Fetch in chunks of `max_client_batch_size`, sent at once; documents in the order asked."""
        id_values = validation.id_list("ids", ids)
        if not id_values:
            return []
        size = yield from self._chunk_size(len(id_values), "max_client_batch_size")
        responses = yield [Call(calls.GET, pb.GetRequest(ids=chunk)) for chunk in chunks(id_values, size)]
        return [convert.document(d) for response in responses for d in response.documents]

    def count(self) -> Plan[int]:
        response = yield from _single(calls.COUNT, pb.CountRequest())
        return response.count

    # ------------------------------------------------------------------ search

    def search(
        self,
        query: str | np.ndarray,
        k: int,
        filter: Mapping[str, str] | None,
        rerank_top_k: int | None,
        include_text: bool,
        include_metadata: bool,
    ) -> Plan[SearchResults]:
        request = self._search_request(
            "query", query, k, filter, rerank_top_k, include_text, include_metadata
        )
        return convert.search_results((yield from _single(calls.SEARCH, request)))

    def search_batch(
        self,
        queries: Iterable[str | np.ndarray],
        k: int,
        filter: Mapping[str, str] | None,
        rerank_top_k: int | None,
        include_text: bool,
        include_metadata: bool,
    ) -> Plan[list[SearchResults]]:
        """Many queries, in chunks of `max_client_batch_size` sent at once; results in query order."""
        if isinstance(queries, (str, np.ndarray)) and not (
            isinstance(queries, np.ndarray) and queries.ndim == 2
        ):
            raise TypeError("queries must be a list of queries (or a 2-D array), not a single query")
        requests = [
            self._search_request(f"queries[{i}]", q, k, filter, rerank_top_k, include_text, include_metadata)
            for i, q in enumerate(queries)
        ]
        size = yield from self._chunk_size(len(requests), "max_client_batch_size")
        responses = yield [
            Call(calls.BATCH_SEARCH, pb.BatchSearchRequest(queries=chunk)) for chunk in chunks(requests, size)
        ]
        return [
            convert.search_results(result, response.model_version)
            for response in responses
            for result in response.results
        ]

    @staticmethod
    def _search_request(
        name: str,
        query: str | np.ndarray,
        k: int,
        filter: Mapping[str, str] | None,
        rerank_top_k: int | None,
        include_text: bool,
        include_metadata: bool,
    ) -> pb.SearchRequest:
        """A SearchRequest; `include_*` are sent only when false, so older servers see the same request."""
        k = validation.positive_int("k", k)
        request = pb.SearchRequest(
            k=k,
            filter=validation.string_map("filter", filter),
            rerank_top_k=optional(validation.int_between, "rerank_top_k", rerank_top_k, k, UINT32_MAX),
        )
        if not include_text:
            request.include_text = False
        if not include_metadata:
            request.include_metadata = False
        if isinstance(query, str):
            if not query:
                raise ValueError(f"{name} is an empty string")
            request.text = query
        elif isinstance(query, (np.ndarray, list, tuple)):
            request.vector.values.extend(validation.query_vector(name, query).tolist())
        else:
            raise TypeError(f"{name} must be a str or a vector, got {type(query).__name__}")
        if rerank_top_k is not None and not request.HasField("text"):
            raise ValueError(f"{name}: rerank_top_k needs a text query; the cross-encoder reads text")
        return request

    # --------------------------------------------------------------- reranking

    def rerank(
        self, query: str, candidates: Iterable[TextLike], top_n: int | None, return_text: bool
    ) -> Plan[RerankResults]:
        """Score in chunks of the server's `max_rerank_candidates`, all sent at once; best first
        over every chunk. Each chunk returns its own best `top_n`, which hold the best overall."""
        if not isinstance(query, str):
            raise TypeError(f"query must be a str, got {type(query).__name__}")
        if not query.strip():
            raise ValueError("query is empty; give the text to rank the candidates against")
        if isinstance(candidates, (str, DocumentRef)):
            raise TypeError("candidates must be a list of texts or DocumentRefs, not a single one")
        refs = [convert.text_ref(f"candidates[{i}]", c) for i, c in enumerate(candidates)]
        if not refs:
            raise ValueError("candidates is empty; give at least one text or DocumentRef")
        top_n = optional(validation.int_between, "top_n", top_n, 1, len(refs))
        size = yield from self._chunk_size(len(refs), "max_rerank_candidates")
        pieces = chunks(refs, size)
        offsets = [i * size for i in range(len(pieces))]  # every chunk but the last holds `size`
        responses = yield [
            Call(
                calls.RERANK,
                pb.RerankRequest(
                    query=query,
                    candidates=piece,
                    top_n=None if top_n is None else min(top_n, len(piece)),
                    return_text=bool(return_text),
                ),
            )
            for piece in pieces
        ]
        versions = {response.cross_encoder_version for response in responses}
        if len(versions) > 1:
            raise ModelVersionMismatchError(versions, "Rerank")
        return convert.rerank_results(responses, offsets, top_n)

    # ---------------------------------------------------------------- feedback

    def feedback(self, items: Iterable[FeedbackItem]) -> Plan[list[int]]:
        """Submit in chunks of `max_feedback_items`; returns the stored ids in item order.

        Feedback is not idempotent, so chunks go one after another: when one fails, the
        items before it are stored and the ones from it on are not.
        """
        messages = [convert.feedback_item(f"items[{i}]", item) for i, item in enumerate(items)]
        size = yield from self._chunk_size(len(messages), "max_feedback_items")
        ids: list[int] = []
        for chunk in chunks(messages, size):
            (response,) = yield [Call(calls.SUBMIT_FEEDBACK, pb.SubmitFeedbackRequest(items=chunk))]
            ids.extend(response.ids)
        return ids

    def _chunk_size(self, count: int, limit: str) -> Plan[int]:
        """The server's `limit` when `count` items might exceed it; no Info call for a single item."""
        if count <= 1:
            return count
        info = yield from self._cached_info()
        return getattr(info.limits, limit)

    # ---------------------------------------------------------- jobs, models

    def train(
        self,
        *,
        losses: Mapping[str, str] | None,
        epochs: float | None,
        batch_size: int | None,
        learning_rate: float | None,
        min_feedback: int | None,
        held_out_fraction: float | None,
        gate_margin: float | None,
        base_version: str | None,
        seed: int | None,
        max_seq_length: int | None,
    ) -> Plan[Job]:
        """Every option checked here; the ones left as None stay unset for the server's defaults."""
        options = pb.TrainingOptions(
            losses=validation.losses("losses", losses, FEEDBACK_KINDS),
            epochs=optional(validation.number, "epochs", epochs, 0),
            batch_size=optional(validation.int_between, "batch_size", batch_size, 1, UINT32_MAX),
            learning_rate=optional(validation.number, "learning_rate", learning_rate, 0),
            min_feedback=optional(validation.int_between, "min_feedback", min_feedback, 1, UINT32_MAX),
            held_out_fraction=optional(validation.number, "held_out_fraction", held_out_fraction, 0, 1),
            gate_margin=optional(validation.number, "gate_margin", gate_margin),
            base_version=optional(validation.non_empty_str, "base_version", base_version),
            seed=optional(validation.int_between, "seed", seed, 0, UINT32_MAX),
            max_seq_length=optional(validation.int_between, "max_seq_length", max_seq_length, 1, UINT32_MAX),
        )
        request = pb.StartTrainingRequest(options=options)
        return convert.job((yield from _single(calls.START_TRAINING, request)))

    def job(self, job_id: Job | int) -> Plan[Job]:
        request = pb.GetJobRequest(id=validation.job_id("job_id", job_id))
        return convert.job((yield from _single(calls.GET_JOB, request)))

    def jobs(self, limit: int) -> Plan[list[Job]]:
        request = pb.ListJobsRequest(limit=validation.int_between("limit", limit, 1, UINT32_MAX))
        response = yield from _single(calls.LIST_JOBS, request)
        return [convert.job(job) for job in response.jobs]

    def cancel(self, job: Job | int) -> Plan[Job]:
        request = pb.GetJobRequest(id=validation.job_id("job", job))
        return convert.job((yield from _single(calls.CANCEL_JOB, request)))

    def wait(self, job: Job | int, timeout: float | None, progress: watch.Progress | None) -> Plan[Job]:
        job_id = validation.job_id("job", job)
        timeout = optional(validation.number, "timeout", timeout, 0)
        if progress is not None and not callable(progress):
            raise TypeError(f"progress must be callable, got {type(progress).__name__}")
        last = job if isinstance(job, Job) else None
        return (yield from watch.follow(job_id, last, timeout, progress, self._retry, self._rng))

    def models(self) -> Plan[list[ModelVersion]]:
        response = yield from _single(calls.LIST_MODELS, pb.ListModelsRequest())
        return [convert.model_version(model) for model in response.models]

    def activate(self, version: str) -> Plan[Job]:
        request = pb.ActivateModelRequest(version=validation.non_empty_str("version", version))
        return convert.job((yield from _single(calls.ACTIVATE_MODEL, request)))

    def add_model(self, source: str) -> Plan[Job]:
        request = pb.AddModelRequest(source=validation.non_empty_str("source", source))
        return convert.job((yield from _single(calls.ADD_MODEL, request)))
