"""The blocking client: runs the core's plans over a `grpc.Channel`.

Calls of one plan step (the chunks of a large embed, upsert or batch search) go
through a small thread pool, so up to `max_in_flight` are on the wire at once while
results come back in order.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from types import TracebackType
from typing import Any, TypeVar

import grpc
import numpy as np

from embedtune_client.core.calls import Call, Plan, Rpc
from embedtune_client.core.connection import ClientBase
from embedtune_client.feedback import FeedbackItem, LabeledPair, LabeledText, Pair, TextLike, Triplet
from embedtune_client.results import Document, EmbedResult, SearchResults, ServerInfo, UpsertResult

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

    def _run(self, plan: Plan[T]) -> T:
        self._check_open()
        try:
            calls = next(plan)
            while True:
                calls = plan.send(self._execute(calls))
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
        self, query: str | np.ndarray, k: int = 10, filter: Mapping[str, str] | None = None
    ) -> SearchResults:
        """The `k` nearest documents to a text or a vector, best first, matching every `filter` pair."""
        return self._run(self._operations.search(query, k, filter))

    def search_batch(
        self, queries: Iterable[str | np.ndarray], k: int = 10, filter: Mapping[str, str] | None = None
    ) -> list[SearchResults]:
        """One result list per query, in query order."""
        return self._run(self._operations.search_batch(queries, k, filter))

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
