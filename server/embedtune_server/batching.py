"""Token-budget batching: many small embedding requests become few well-filled batches.

The pipeline has three stages, each on its own thread or task, so tokenising the next
requests overlaps ONNX Runtime running the current batch:

1. tokenize: a one-thread pool runs the Rust tokenizer (it releases the GIL);
2. cut: ONE asyncio task owns the queue of waiting inputs. It waits until an
   inference stream is free, drops inputs whose RPC was cancelled, and cuts the next
   batch: the oldest waiting input plus the inputs closest to it in length, while the
   batch stays within `max_batch_requests` inputs and `max_batch_tokens` padded tokens
   (inputs x longest) and no input is padded by more than a thirty-second of the
   longest (or 1 token). Padding is paid for in full by inference while several
   streams keep small batches cheap: on STSb traffic this rule ran 1.04-1.05x the
   speed of "an eighth, or 2 tokens" and far ahead of "half, or 16 tokens"
   (benchmarks/padding.py). Always taking the oldest input means no input starves;
3. infer: `inference_streams` threads each run the backend on one batch at a time;
   results go back to each request's future on the event loop (post-processing
   happens in the RPC handler). A batch is cut only when a stream is free, so
   inputs that arrive meanwhile can still join it.

The stages are joined by an inbox and a batch queue with a slot per stream.
Admission is counted per request from tokenising to the last result; past
`max_concurrent_requests` a request fails at once with `OverloadedError`
(RESOURCE_EXHAUSTED) instead of queueing.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Protocol

import numpy as np

from embedtune_server.metrics import ServerMetrics

# An input in a batch is padded by at most 1/_PADDING_SHARE of the longest input, or _PADDING_SLACK tokens.
_PADDING_SHARE = 32
_PADDING_SLACK = 1
# The cutter considers this many times `max_batch_requests` of the oldest inputs.
_WINDOW_FACTOR = 4


class OverloadedError(Exception):
    """The server is at `max_concurrent_requests`; the caller may retry later."""


class BatcherClosedError(Exception):
    """The batcher stopped before the request finished (server shutting down)."""


class Tokenizer(Protocol):
    def encode(
        self, texts: Sequence[str], truncate: bool = True, direction: str = "right"
    ) -> list[np.ndarray]: ...


InferFn = Callable[[list[np.ndarray]], np.ndarray]


@dataclass(frozen=True)
class EmbedResult:
    """Embeddings of one request, in input order, with where its time went."""

    embeddings: np.ndarray
    token_counts: list[int]
    tokenize_s: float
    queue_s: float
    inference_s: float


@dataclass(eq=False)
class _Request:
    future: asyncio.Future
    size: int
    enqueued_at: float
    vectors: list[np.ndarray | None] = field(default_factory=list)
    remaining: int = 0
    first_start: float = 0.0
    last_end: float = 0.0
    cancelled: bool = False

    def __post_init__(self) -> None:
        self.vectors = [None] * self.size
        self.remaining = self.size


@dataclass(eq=False, slots=True)
class _Entry:
    request: _Request
    position: int
    token_ids: np.ndarray
    arrival: int

    @property
    def length(self) -> int:
        return len(self.token_ids)


def cut_batch(
    pending: Sequence[_Entry],
    max_batch_requests: int,
    max_batch_tokens: int,
    *,
    padding_share: int = _PADDING_SHARE,
    padding_slack: int = _PADDING_SLACK,
) -> tuple[list[_Entry], list[_Entry]]:
    """Split `pending` (oldest first) into the next batch, sorted by length, and the rest.

    The padding bound is a parameter only so benchmarks/padding.py can compare rules.
    """
    window = list(pending[: max_batch_requests * _WINDOW_FACTOR])
    by_length = sorted(window, key=lambda e: (e.length, e.arrival))
    lo = hi = by_length.index(window[0])
    shortest = longest = window[0].length

    def fits(candidate: _Entry) -> bool:
        count = hi - lo + 2
        new_longest = max(longest, candidate.length)
        padding = new_longest - min(shortest, candidate.length)
        return (
            count <= max_batch_requests
            and count * new_longest <= max_batch_tokens
            and padding <= max(new_longest // padding_share, padding_slack)
        )

    while True:
        candidates = []
        if lo > 0:
            candidates.append((shortest - by_length[lo - 1].length, -1))
        if hi + 1 < len(by_length):
            candidates.append((by_length[hi + 1].length - longest, +1))
        for _, side in sorted(candidates):
            entry = by_length[lo - 1] if side < 0 else by_length[hi + 1]
            if fits(entry):
                if side < 0:
                    lo -= 1
                    shortest = entry.length
                else:
                    hi += 1
                    longest = entry.length
                break
        else:
            break
    batch = by_length[lo : hi + 1]
    taken = set(map(id, batch))
    return batch, [e for e in pending if id(e) not in taken]


class TokenBudgetBatcher:
    """Admits, tokenises, batches and runs embedding requests for one backend."""

    def __init__(
        self,
        tokenizer: Tokenizer,
        infer: InferFn,
        *,
        max_batch_tokens: int,
        max_batch_requests: int,
        max_concurrent_requests: int,
        metrics: ServerMetrics,
        inference_streams: int = 1,
    ) -> None:
        self._tokenizer = tokenizer
        self._infer = infer
        self._max_batch_tokens = max_batch_tokens
        self._max_batch_requests = max_batch_requests
        self._max_concurrent = max_concurrent_requests
        self._metrics = metrics
        self._streams = inference_streams
        self._in_flight = 0
        self._arrivals = itertools.count()
        self._tasks: list[asyncio.Task] = []
        self._closed = False

    async def start(self) -> None:
        """Start the stages on the running event loop."""
        self._tokenize_pool = ThreadPoolExecutor(1, thread_name_prefix="embedtune-tokenize")
        self._infer_pool = ThreadPoolExecutor(self._streams, thread_name_prefix="embedtune-infer")
        self._inbox: asyncio.Queue[tuple[_Request, list[np.ndarray]]] = asyncio.Queue()
        self._batches: asyncio.Queue[list[_Entry]] = asyncio.Queue(maxsize=self._streams)
        self._inference_free = asyncio.Semaphore(self._streams)
        self._pending: list[_Entry] = []  # owned by the cut task
        self._running: dict[int, list[_Entry]] = {}  # each stream's task owns its entry
        self._tasks = [asyncio.create_task(self._cut_loop(), name="embedtune-cut")]
        self._tasks += [
            asyncio.create_task(self._infer_loop(stream), name=f"embedtune-infer-{stream}")
            for stream in range(self._streams)
        ]

    async def stop(self) -> None:
        """Stop the stages; requests still waiting fail with BatcherClosedError."""
        self._closed = True
        running = [entry for batch in self._running.values() for entry in batch]
        waiting = [entry.request for entry in self._pending + running]
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        waiting += [request for request, _ in self._drain(self._inbox)]
        waiting += [entry.request for batch in self._drain(self._batches) for entry in batch]
        for request in waiting:
            self._fail(request, BatcherClosedError("server is shutting down"))
        # a batch already inside the backend finishes on its own; nobody waits for it
        self._tokenize_pool.shutdown(wait=False, cancel_futures=True)
        self._infer_pool.shutdown(wait=False, cancel_futures=True)

    @property
    def in_flight(self) -> int:
        return self._in_flight

    async def embed(
        self, texts: Sequence[str], truncate: bool = True, direction: str = "right"
    ) -> EmbedResult:
        """Embed `texts`; raises OverloadedError at the admission limit, or the tokenizer's errors."""
        if self._closed:
            raise BatcherClosedError("server is shutting down")
        if self._in_flight >= self._max_concurrent:
            self._metrics.rejected.inc()
            raise OverloadedError(
                f"{self._in_flight} requests in flight reaches"
                f" max_concurrent_requests={self._max_concurrent}; retry later"
            )
        self._in_flight += 1
        self._metrics.in_flight.inc()
        try:
            loop = asyncio.get_running_loop()
            started = time.perf_counter()
            encode = partial(self._tokenizer.encode, list(texts), truncate=truncate, direction=direction)
            token_ids = await loop.run_in_executor(self._tokenize_pool, encode)
            tokenize_s = time.perf_counter() - started
            self._metrics.tokenize_seconds.observe(tokenize_s)
            return await self._run(token_ids, tokenize_s)
        finally:
            self._in_flight -= 1
            self._metrics.in_flight.dec()

    async def _run(self, token_ids: list[np.ndarray], tokenize_s: float) -> EmbedResult:
        request = _Request(asyncio.get_running_loop().create_future(), len(token_ids), time.perf_counter())
        if request.size:
            self._inbox.put_nowait((request, token_ids))
            try:
                await request.future
            except asyncio.CancelledError:
                request.cancelled = True
                raise
        return EmbedResult(
            embeddings=np.stack(request.vectors) if request.size else np.zeros((0, 0), np.float32),
            token_counts=[len(ids) for ids in token_ids],
            tokenize_s=tokenize_s,
            queue_s=max(request.first_start - request.enqueued_at, 0.0),
            inference_s=max(request.last_end - request.first_start, 0.0),
        )

    async def _cut_loop(self) -> None:
        while True:
            await self._inference_free.acquire()
            if not self._pending:
                self._admit(await self._inbox.get())
            for item in self._drain(self._inbox):
                self._admit(item)
            live = [e for e in self._pending if not e.request.cancelled]
            self._metrics.cancelled_inputs.inc(len(self._pending) - len(live))
            if not live:
                self._pending = live
                self._metrics.queue_size.set(0)
                self._inference_free.release()
                continue
            batch, self._pending = cut_batch(live, self._max_batch_requests, self._max_batch_tokens)
            self._metrics.queue_size.set(len(self._pending))
            self._batches.put_nowait(batch)

    def _admit(self, item: tuple[_Request, list[np.ndarray]]) -> None:
        request, token_ids = item
        self._pending.extend(_Entry(request, i, ids, next(self._arrivals)) for i, ids in enumerate(token_ids))

    @staticmethod
    def _drain(queue: asyncio.Queue) -> list:
        items = []
        while not queue.empty():
            items.append(queue.get_nowait())
        return items

    async def _infer_loop(self, stream: int) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = await self._batches.get()
            try:
                live = self._running[stream] = [e for e in batch if not e.request.cancelled]
                self._metrics.cancelled_inputs.inc(len(batch) - len(live))
                if live:
                    await self._infer_batch(loop, live)
            finally:
                self._running.pop(stream, None)
                self._inference_free.release()

    async def _infer_batch(self, loop: asyncio.AbstractEventLoop, batch: list[_Entry]) -> None:
        started = time.perf_counter()
        for entry in batch:
            self._metrics.queue_seconds.observe(started - entry.request.enqueued_at)
        self._metrics.batch_size.observe(len(batch))
        self._metrics.batch_tokens.observe(len(batch) * max(e.length for e in batch))
        try:
            vectors = await loop.run_in_executor(self._infer_pool, self._infer, [e.token_ids for e in batch])
        except Exception as exc:  # the backend failed: every request in the batch learns why
            for entry in batch:
                self._fail(entry.request, exc)
            return
        ended = time.perf_counter()
        self._metrics.inference_seconds.observe(ended - started)
        for entry, vector in zip(batch, vectors, strict=True):
            request = entry.request
            if request.remaining == request.size:
                request.first_start = started
            request.last_end = ended
            request.vectors[entry.position] = vector
            request.remaining -= 1
            if request.remaining == 0 and not request.future.done():
                request.future.set_result(None)

    @staticmethod
    def _fail(request: _Request, exc: BaseException) -> None:
        request.cancelled = True
        if not request.future.done():
            request.future.set_exception(exc)
