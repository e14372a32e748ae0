"""The asyncio client: runs the core's plans over a `grpc.aio` channel.

The channel is created on first use, inside the running event loop. Calls of one
plan step are gathered, at most `max_in_flight` at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import TracebackType
from typing import Any, TypeVar

import grpc
import grpc.aio
import numpy as np

from embedtune_client.core.calls import Call, Plan, Read, Rpc, Step, Stream
from embedtune_client.core.connection import ClientBase
from embedtune_client.core.watch import Progress
from embedtune_client.feedback import FeedbackItem, LabeledPair, LabeledText, Pair, TextLike, Triplet
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

T = TypeVar("T")


class AsyncClient(ClientBase):
    """asyncio embedtune client, with the same methods as `Client` as coroutines.

    Use as `async with AsyncClient(...) as client:`, or `await client.close()`.
    Bound to the event loop of its first call.
    """

    def _connect(self) -> None:
        self._channel: grpc.aio.Channel | None = None
        self._stubs: dict[Rpc, Callable[..., Any]] = {}

    # ------------------------------------------------------------- transport

    def _stub(self, rpc: Rpc) -> Callable[..., Any]:
        if self._channel is None:
            credentials = self.settings.credentials()
            options = self.settings.channel_options()
            self._channel = (
                grpc.aio.secure_channel(self.settings.target, credentials, options)
                if credentials
                else grpc.aio.insecure_channel(self.settings.target, options)
            )
        if rpc not in self._stubs:
            self._stubs[rpc] = rpc.bind(self._channel)
        return self._stubs[rpc]

    async def _invoke(self, call: Call, slots: asyncio.Semaphore) -> Any:
        stub = self._stub(call.rpc)
        metadata = self.settings.metadata(call.rpc)
        attempt = 0
        while True:
            attempt += 1
            try:
                async with slots:
                    return await stub(call.request, metadata=metadata, timeout=self.settings.timeout)
            except grpc.RpcError as exc:
                await asyncio.sleep(self._retry_delay(call, exc, attempt))

    async def _execute(self, calls: list[Call]) -> list[Any]:
        slots = asyncio.Semaphore(self.settings.max_in_flight)
        tasks = [asyncio.ensure_future(self._invoke(call, slots)) for call in calls]
        try:
            return list(await asyncio.gather(*tasks))
        finally:
            for task in tasks:
                task.cancel()

    async def _stream(self, step: Step) -> Any:
        """Open a server stream (`Stream`) or take its next message (`Read`), as calls.py describes."""
        if isinstance(step, Stream):
            await asyncio.sleep(step.delay)
            call = step.call
            metadata = self.settings.metadata(call.rpc)
            return self._stub(call.rpc)(call.request, metadata=metadata, timeout=step.timeout)
        try:
            message = await step.stream.read()
        except grpc.RpcError as exc:
            return exc
        return None if message is grpc.aio.EOF else message

    async def _run(self, plan: Plan[T]) -> T:
        self._check_open()
        try:
            step = next(plan)
            while True:
                if isinstance(step, (Stream, Read)):
                    answer = await self._stream(step)
                else:
                    answer = await self._execute(step)
                step = plan.send(answer)
        except StopIteration as done:
            return done.value
        finally:
            plan.close()

    async def close(self) -> None:
        """Close the channel; later calls raise RuntimeError. Idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._channel is not None:
            await self._channel.close()

    async def __aenter__(self) -> AsyncClient:
        self._check_open()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    # ---------------------------------------------------------------- methods
    # Same signatures and meaning as `Client`'s; see there for the details.

    async def info(self) -> ServerInfo:
        return await self._run(self._operations.info())

    async def health(self, service: str = "") -> str:
        return await self._run(self._operations.health(service))

    async def embed(
        self,
        texts: Iterable[str],
        normalize: bool = True,
        dimensions: int | None = None,
        truncate: bool = True,
        truncation_direction: str = "right",
    ) -> np.ndarray:
        return (
            await self.embed_detailed(texts, normalize, dimensions, truncate, truncation_direction)
        ).embeddings

    async def embed_detailed(
        self,
        texts: Iterable[str],
        normalize: bool = True,
        dimensions: int | None = None,
        truncate: bool = True,
        truncation_direction: str = "right",
    ) -> EmbedResult:
        return await self._run(
            self._operations.embed(texts, normalize, dimensions, truncate, truncation_direction)
        )

    async def upsert(
        self, ids: Iterable[str], texts: Iterable[str], metadata: Sequence[Mapping[str, str]] | None = None
    ) -> UpsertResult:
        return await self._run(self._operations.upsert(ids, texts, metadata))

    async def delete(self, ids: Iterable[str], ignore_missing: bool = False) -> int:
        return await self._run(self._operations.delete(ids, ignore_missing))

    async def get(self, ids: Iterable[str]) -> list[Document]:
        return await self._run(self._operations.get(ids))

    async def count(self) -> int:
        return await self._run(self._operations.count())

    async def search(
        self,
        query: str | np.ndarray,
        k: int = 10,
        filter: Mapping[str, str] | None = None,
        rerank_top_k: int | None = None,
        *,
        include_text: bool = True,
        include_metadata: bool = True,
    ) -> SearchResults:
        return await self._run(
            self._operations.search(query, k, filter, rerank_top_k, include_text, include_metadata)
        )

    async def search_batch(
        self,
        queries: Iterable[str | np.ndarray],
        k: int = 10,
        filter: Mapping[str, str] | None = None,
        rerank_top_k: int | None = None,
        *,
        include_text: bool = True,
        include_metadata: bool = True,
    ) -> list[SearchResults]:
        return await self._run(
            self._operations.search_batch(queries, k, filter, rerank_top_k, include_text, include_metadata)
        )

    async def rerank(
        self,
        query: str,
        candidates: Iterable[TextLike],
        top_n: int | None = None,
        return_text: bool = False,
    ) -> RerankResults:
        return await self._run(self._operations.rerank(query, candidates, top_n, return_text))

    async def feedback_triplet(self, anchor: TextLike, positive: TextLike, negative: TextLike) -> int:
        return (await self.feedback_many([Triplet(anchor, positive, negative)]))[0]

    async def feedback_pair(self, anchor: TextLike, positive: TextLike) -> int:
        return (await self.feedback_many([Pair(anchor, positive)]))[0]

    async def feedback_labeled(self, text1: TextLike, text2: TextLike, label: float | int) -> int:
        return (await self.feedback_many([LabeledPair(text1, text2, label)]))[0]

    async def feedback_labeled_text(self, text: TextLike, label: int) -> int:
        return (await self.feedback_many([LabeledText(text, label)]))[0]

    async def feedback_many(self, items: Iterable[FeedbackItem]) -> list[int]:
        return await self._run(self._operations.feedback(items))

    async def train(
        self,
        *,
        losses: Mapping[str, str] | None = None,
        epochs: float | None = None,
        batch_size: int | None = None,
        learning_rate: float | None = None,
        min_feedback: int | None = None,
        held_out_fraction: float | None = None,
        gate_margin: float | None = None,
        base_version: str | None = None,
        seed: int | None = None,
        max_seq_length: int | None = None,
    ) -> Job:
        # Not retried: a replay after a lost answer would start a second job.
        return await self._run(
            self._operations.train(
                losses=losses,
                epochs=epochs,
                batch_size=batch_size,
                learning_rate=learning_rate,
                min_feedback=min_feedback,
                held_out_fraction=held_out_fraction,
                gate_margin=gate_margin,
                base_version=base_version,
                seed=seed,
                max_seq_length=max_seq_length,
            )
        )

    async def job(self, job_id: Job | int) -> Job:
        return await self._run(self._operations.job(job_id))

    async def jobs(self, limit: int = 50) -> list[Job]:
        return await self._run(self._operations.jobs(limit))

    async def cancel(self, job: Job | int) -> Job:
        return await self._run(self._operations.cancel(job))

    async def wait(
        self, job: Job | int, timeout: float | None = None, progress: Progress | None = None
    ) -> Job:
        # `progress` is a plain function here too, called from the event loop.
        return await self._run(self._operations.wait(job, timeout, progress))

    async def models(self) -> list[ModelVersion]:
        return await self._run(self._operations.models())

    async def activate(self, version: str) -> Job:
        return await self._run(self._operations.activate(version))

    async def add_model(self, source: str) -> Job:
        return await self._run(self._operations.add_model(source))
