"""The blocking client: runs the core's plans over a `grpc.Channel`.

Calls of one plan step (the chunks of a large embed, upsert or batch search) go
through a small thread pool, so up to `max_in_flight` are on the wire at once while
results come back in order. A server stream is read on the calling thread.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from types import TracebackType
from typing import Any, TypeVar

import grpc
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


class Client(ClientBase):
    """Blocking embedtune client. Use as a context manager, or call `close()`.

    Client(target="127.0.0.1:50051", api_key=None, admin_key=None, tls=False, timeout=30.0,
           *, retry=RetryPolicy(), max_in_flight=4, options=())

    Safe to share between threads.
    """

    def _connect(self) -> None:
        credentials = self.settings.credentials()
        options = self.settings.channel_options()
        self._channel = (
            grpc.secure_channel(self.settings.target, credentials, options)
            if credentials
            else grpc.insecure_channel(self.settings.target, options)
        )
        self._stubs: dict[Rpc, Callable[..., Any]] = {}
        # Threads start on first use, so a client that never sends chunks in parallel has none.
        self._pool = ThreadPoolExecutor(self.settings.max_in_flight, thread_name_prefix="embedtune-client")

    # ------------------------------------------------------------- transport

    def _stub(self, rpc: Rpc) -> Callable[..., Any]:
        if rpc not in self._stubs:
            self._stubs[rpc] = rpc.bind(self._channel)
        return self._stubs[rpc]

    def _invoke(self, call: Call) -> Any:
        stub = self._stub(call.rpc)
        metadata = self.settings.metadata(call.rpc)
        attempt = 0
        while True:
            attempt += 1
            try:
                return stub(call.request, metadata=metadata, timeout=self.settings.timeout)
            except grpc.RpcError as exc:
                time.sleep(self._retry_delay(call, exc, attempt))

    def _execute(self, calls: list[Call]) -> list[Any]:
        if len(calls) <= 1:
            return [self._invoke(call) for call in calls]
        futures: list[Future[Any]] = [self._pool.submit(self._invoke, call) for call in calls]
        try:
            return [future.result() for future in futures]
        finally:
            for future in futures:
                future.cancel()

    def _stream(self, step: Step) -> Any:
        """Open a server stream (`Stream`) or take its next message (`Read`), as calls.py describes."""
        if isinstance(step, Stream):
            time.sleep(step.delay)
            call = step.call
            metadata = self.settings.metadata(call.rpc)
            return self._stub(call.rpc)(call.request, metadata=metadata, timeout=step.timeout)
        try:
            return next(step.stream, None)
        except grpc.RpcError as exc:
            return exc

    def _run(self, plan: Plan[T]) -> T:
        self._check_open()
        try:
            step = next(plan)
            while True:
                answer = self._stream(step) if isinstance(step, (Stream, Read)) else self._execute(step)
                step = plan.send(answer)
        except StopIteration as done:
            return done.value
        finally:
            plan.close()

    def close(self) -> None:
        """Close the channel; later calls raise RuntimeError. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._channel.close()

    def __enter__(self) -> Client:
        self._check_open()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # ---------------------------------------------------------------- methods

    def info(self) -> ServerInfo:
        """The served model, its dimension, the index and every server limit."""
        return self._run(self._operations.info())

    def health(self, service: str = "") -> str:
        """grpc.health.v1 status: "SERVING", "NOT_SERVING", "SERVICE_UNKNOWN" or "UNKNOWN"."""
        return self._run(self._operations.health(service))

    def embed(
        self,
        texts: Iterable[str],
        normalize: bool = True,
        dimensions: int | None = None,
        truncate: bool = True,
        truncation_direction: str = "right",
    ) -> np.ndarray:
        """Embed `texts` as a float32 (n, dim) array, row i for texts[i].

        Lists longer than the server's `max_client_batch_size` are split and the chunks
        sent concurrently. `dimensions` keeps the first values (Matryoshka);
        `truncate=False` makes a text over the model's length an InvalidArgumentError.
        """
        return self.embed_detailed(texts, normalize, dimensions, truncate, truncation_direction).embeddings

    def embed_detailed(
        self,
        texts: Iterable[str],
        normalize: bool = True,
        dimensions: int | None = None,
        truncate: bool = True,
        truncation_direction: str = "right",
    ) -> EmbedResult:
        """Like `embed`, with the model version, token counts and server timings."""
        return self._run(self._operations.embed(texts, normalize, dimensions, truncate, truncation_direction))

    def upsert(
        self, ids: Iterable[str], texts: Iterable[str], metadata: Sequence[Mapping[str, str]] | None = None
    ) -> UpsertResult:
        """Insert or replace documents by id (uses the admin key). Retried: replaying is harmless."""
        return self._run(self._operations.upsert(ids, texts, metadata))

    def delete(self, ids: Iterable[str], ignore_missing: bool = False) -> int:
        """Remove documents (admin key); unknown ids raise NotFoundError unless `ignore_missing`."""
        return self._run(self._operations.delete(ids, ignore_missing))

    def get(self, ids: Iterable[str]) -> list[Document]:
        """Documents by id, in the order asked; unknown ids raise NotFoundError."""
        return self._run(self._operations.get(ids))

    def count(self) -> int:
        """Number of stored documents."""
        return self._run(self._operations.count())

    def search(
        self,
        query: str | np.ndarray,
        k: int = 10,
        filter: Mapping[str, str] | None = None,
        rerank_top_k: int | None = None,
        *,
        include_text: bool = True,
        include_metadata: bool = True,
    ) -> SearchResults:
        """The `k` nearest documents to a text or a vector, best first, matching every `filter` pair.

        `rerank_top_k` (at least `k`, a text query): the server finds that many, scores them with
        its cross-encoder and returns the best `k`; each hit's score is then the cross-encoder's.
        `include_text=False` / `include_metadata=False` leave the hits' texts / metadata empty:
        the server neither reads nor sends them, and its `max_response_bytes` counts only what
        is sent.
        """
        return self._run(
            self._operations.search(query, k, filter, rerank_top_k, include_text, include_metadata)
        )

    def search_batch(
        self,
        queries: Iterable[str | np.ndarray],
        k: int = 10,
        filter: Mapping[str, str] | None = None,
        rerank_top_k: int | None = None,
        *,
        include_text: bool = True,
        include_metadata: bool = True,
    ) -> list[SearchResults]:
        """One result list per query, in query order."""
        return self._run(
            self._operations.search_batch(queries, k, filter, rerank_top_k, include_text, include_metadata)
        )

    def rerank(
        self,
        query: str,
        candidates: Iterable[TextLike],
        top_n: int | None = None,
        return_text: bool = False,
    ) -> RerankResults:
        """Score each candidate (a text, or a `DocumentRef` to a stored document) against `query`
        with the server's cross-encoder; best first, the first `top_n` (default all).

        Each result's `index` is its position in `candidates`. Lists longer than the server's
        `max_rerank_candidates` are split and the chunks sent concurrently.
        FailedPreconditionError when the server has no cross-encoder.
        """
        return self._run(self._operations.rerank(query, candidates, top_n, return_text))

    def feedback_triplet(self, anchor: TextLike, positive: TextLike, negative: TextLike) -> int:
        """For `anchor`, `positive` beat `negative`. Returns the stored feedback id. Not retried."""
        return self.feedback_many([Triplet(anchor, positive, negative)])[0]

    def feedback_pair(self, anchor: TextLike, positive: TextLike) -> int:
        """`anchor` and `positive` mean the same. Returns the stored feedback id. Not retried."""
        return self.feedback_many([Pair(anchor, positive)])[0]

    def feedback_labeled(self, text1: TextLike, text2: TextLike, label: float | int) -> int:
        """Two texts with a float similarity score or an int class. Not retried."""
        return self.feedback_many([LabeledPair(text1, text2, label)])[0]

    def feedback_labeled_text(self, text: TextLike, label: int) -> int:
        """One text with its int class. Not retried."""
        return self.feedback_many([LabeledText(text, label)])[0]

    def feedback_many(self, items: Iterable[FeedbackItem]) -> list[int]:
        """Submit many items (admin key), in chunks of `max_feedback_items`; ids in item order."""
        return self._run(self._operations.feedback(items))

    def train(
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
        """Start a training job on the feedback not yet in an activated version (admin key).

        Options left as None take the server's defaults; `job.options` shows what it used.
        `losses` maps a feedback kind ("triplet", "pair", "labeled_pair", "labeled_text")
        to a loss name. Returns the queued job; follow it with `wait()`. Not retried: a
        replay after a lost answer would start a second job. FailedPreconditionError when
        a job runs already or there is less new feedback than `min_feedback`.
        """
        return self._run(
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

    def job(self, job_id: Job | int) -> Job:
        """A job as it is now, by id or as a `Job` to refresh (admin key)."""
        return self._run(self._operations.job(job_id))

    def jobs(self, limit: int = 50) -> list[Job]:
        """The last `limit` jobs, newest first (admin key)."""
        return self._run(self._operations.jobs(limit))

    def cancel(self, job: Job | int) -> Job:
        """Stop a running job; the active version stays. A finished job comes back as it is. Not retried."""
        return self._run(self._operations.cancel(job))

    def wait(self, job: Job | int, timeout: float | None = None, progress: Progress | None = None) -> Job:
        """Follow a job until it ends and return it: check `job.state` or `job.succeeded`.

        `progress(job)` is called with every update the server streams. `timeout` is in
        seconds for the whole wait (None: no limit; the client's per-call timeout does not
        apply) and raises TimeoutError naming the job and its last state. When the server
        is unreachable or restarts, wait() subscribes again with the retry policy's
        backoff until `timeout`, however many attempts that takes.
        """
        return self._run(self._operations.wait(job, timeout, progress))

    def models(self) -> list[ModelVersion]:
        """Every model version the server knows, oldest first (admin key)."""
        return self._run(self._operations.models())

    def activate(self, version: str) -> Job:
        """Serve `version` (rollback or forward): a job that re-embeds the documents that lack its
        vectors, then swaps. Not retried."""
        return self._run(self._operations.activate(version))

    def add_model(self, source: str) -> Job:
        """Register a model from a folder on the server's disk or a Hugging Face Hub id as a new
        version (a job; it does not activate it). Not retried."""
        return self._run(self._operations.add_model(source))
