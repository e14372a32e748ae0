"""Token-budget batching: many small embedding requests become few well-filled batches.

The batcher runs any backend with a tokenizer and an `infer`: for the encoder an input
is a text and its output row an embedding; for the cross-encoder an input is a
(query, text) pair and its output a score. It reads nothing of an encoded input but
its length in tokens.

The pipeline has three stages on their own threads, so tokenising the next requests
overlaps ONNX Runtime running the current batch:

1. tokenize: a one-thread pool runs the Rust tokenizer (it releases the GIL); the
   request's inputs then join the `InputQueue`;
2. cut: when an inference stream is free it cuts its own next batch from the queue,
   dropping inputs whose RPC was cancelled: the oldest waiting input plus the inputs
   closest to it in length, while the batch stays within `max_batch_requests` inputs
   and `max_batch_tokens` padded tokens (inputs x longest) and no input is padded by
   more than a thirty-second of the longest (or 1 token). Padding is paid for in full
   by inference while several streams keep small batches cheap (docs/benchmarks.md,
   "Padding by batching rule", compares the rules). Always taking the oldest input means
   no input starves, and an input longer than the token budget runs in a batch of its
   own. A batch is cut only when a stream is free, so inputs that arrive meanwhile can
   still join it;
3. infer: `inference_streams` threads each run the backend on one batch at a time
   and hand the results to the event loop, which fills each request's future
   (post-processing happens in the RPC handler).

A stream cuts its next batch itself, on its own thread, instead of asking an asyncio
task to: under load each hop through the busy event loop lengthens the pause between
a stream's batches (docs/architecture.md, "Threads and stages").

Admission is counted per request from tokenising to the last result; past
`max_concurrent_requests` a request fails at once with `OverloadedError`
(RESOURCE_EXHAUSTED) instead of queueing. The admission count and the CPU budget (how
many batches run at once) are shared objects (`capacity.py`), so two batchers alive
during a model swap stay within one limit.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import threading
import time
from collections.abc import Callable, Sequence, Sized
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Protocol

import numpy as np

from embedtune_server import failpoints
from embedtune_server.capacity import Admission, CpuBudget
from embedtune_server.metrics import ServerMetrics

_log = logging.getLogger(__name__)

# A stream with nothing to do for this long calls `on_idle`.
IDLE_AFTER_S = 0.05
# An input in a batch is padded by at most 1/_PADDING_SHARE of the longest input, or _PADDING_SLACK tokens.
_PADDING_SHARE = 32
_PADDING_SLACK = 1
# The cutter considers this many times `max_batch_requests` of the oldest inputs.
_WINDOW_FACTOR = 4


class BatcherClosedError(Exception):
    """The batcher stopped before the request finished (server shutting down)."""


class Tokenizer(Protocol):
    """Inputs to encoded inputs, each as long (`len`) as its token count."""

    def encode(self, texts: Sequence, truncate: bool = True, direction: str = "right") -> Sequence[Sized]: ...


# Encoded inputs to one output row each.
InferFn = Callable[[list], np.ndarray]


@dataclass(frozen=True)
class EmbedResult:
    """The outputs of one request (embeddings, or a cross-encoder's scores), in input order,
    with where its time went."""

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
    token_ids: Sized
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


class InputQueue:
    """The inputs waiting for a batch, shared by the inference streams under one lock.

    `put` comes from the event loop; `next_batch` from a stream's thread when it is free.
    """

    def __init__(self, max_batch_requests: int, max_batch_tokens: int, metrics: ServerMetrics) -> None:
        self._max_batch_requests = max_batch_requests
        self._max_batch_tokens = max_batch_tokens
        self._metrics = metrics
        self._changed = threading.Condition(threading.Lock())
        self._pending: list[_Entry] = []
        self._running: dict[int, list[_Entry]] = {}
        self._closed = False
        self._reported = 0

    def _report_size(self) -> None:
        """Move the queue-size gauge by this queue's change, so it sums every live queue (the
        encoder's and the cross-encoder's, and two encoders' during a swap); under the lock."""
        self._metrics.queue_size.inc(len(self._pending) - self._reported)
        self._reported = len(self._pending)

    @property
    def closed(self) -> bool:
        return self._closed

    def put(self, entries: list[_Entry]) -> None:
        """Queue a request's inputs; raises BatcherClosedError once the queue is closed."""
        with self._changed:
            if self._closed:
                raise BatcherClosedError("server is shutting down")
            self._pending.extend(entries)
            self._report_size()
            self._changed.notify()

    def next_batch(self, stream: int, timeout: float | None = None) -> list[_Entry] | None:
        """Cut the next batch for `stream`, which is done with its previous one.

        Waits for work up to `timeout` seconds (None: until there is some; 0: not at all);
        returns None once closed, or when nothing came in time.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._changed:
            self._running.pop(stream, None)
            while True:
                if self._closed:
                    return None
                live = [e for e in self._pending if not e.request.cancelled]
                self._metrics.cancelled_inputs.inc(len(self._pending) - len(live))
                self._pending = live
                if live:
                    break
                self._report_size()
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return None
                self._changed.wait(left)
            batch, self._pending = cut_batch(live, self._max_batch_requests, self._max_batch_tokens)
            self._running[stream] = batch
            self._report_size()
            if self._pending:
                self._changed.notify()  # another free stream may cut the rest
            return batch

    def close(self) -> list[_Entry]:
        """Stop cutting; returns every input still waiting or running, for the caller to fail."""
        with self._changed:
            self._closed = True
            left = self._pending + [entry for batch in self._running.values() for entry in batch]
            self._pending = []
            self._report_size()
            self._running.clear()
            self._changed.notify_all()
            return left


class TokenBudgetBatcher:
    """Admits, tokenises, batches and runs embedding requests for one backend."""

    def __init__(
        self,
        tokenizer: Tokenizer,
        infer: InferFn,
        *,
        max_batch_tokens: int,
        max_batch_requests: int,
        admission: Admission,
        cpu: CpuBudget,
        metrics: ServerMetrics,
        inference_streams: int = 1,
        on_idle: Callable[[], None] | None = None,
    ) -> None:
        self._tokenizer = tokenizer
        self._infer = infer
        self._on_idle = on_idle
        self._admission = admission
        self._cpu = cpu
        self._metrics = metrics
        self._streams = inference_streams
        self._queue = InputQueue(max_batch_requests, max_batch_tokens, metrics)
        self._in_flight = 0
        self._arrivals = itertools.count()

    async def start(self) -> None:
        """Start the tokenizer pool and the inference streams, which report to the running event loop."""
        self._loop = asyncio.get_running_loop()
        self._tokenize_pool = ThreadPoolExecutor(1, thread_name_prefix="embedtune-tokenize")
        for stream in range(self._streams):
            threading.Thread(
                target=self._stream, args=(stream,), name=f"embedtune-infer-{stream}", daemon=True
            ).start()

    async def stop(self) -> None:
        """Stop the stages; requests still waiting fail with BatcherClosedError.

        A batch already inside the backend finishes on its own; nobody waits for it.
        """
        for entry in self._queue.close():
            self._fail(entry.request, BatcherClosedError("server is shutting down"))
        self._tokenize_pool.shutdown(wait=False, cancel_futures=True)

    @property
    def in_flight(self) -> int:
        """Requests admitted by this batcher and not finished."""
        return self._in_flight

    async def embed(self, texts: Sequence, truncate: bool = True, direction: str = "right") -> EmbedResult:
        """Run the backend on `texts` (the tokenizer's inputs: texts, or pairs for a cross-encoder);
        raises OverloadedError at the admission limit, or the tokenizer's errors."""
        if self._queue.closed:
            raise BatcherClosedError("server is shutting down")
        self._admission.enter()
        self._in_flight += 1
        try:
            started = time.perf_counter()
            encode = partial(self._tokenizer.encode, list(texts), truncate=truncate, direction=direction)
            token_ids = await self._loop.run_in_executor(self._tokenize_pool, encode)
            tokenize_s = time.perf_counter() - started
            self._metrics.tokenize_seconds.observe(tokenize_s)
            return await self._run(token_ids, tokenize_s)
        finally:
            self._in_flight -= 1
            self._admission.exit()

    async def _run(self, token_ids: Sequence[Sized], tokenize_s: float) -> EmbedResult:
        request = _Request(self._loop.create_future(), len(token_ids), time.perf_counter())
        if request.size:
            self._queue.put(
                [_Entry(request, i, ids, next(self._arrivals)) for i, ids in enumerate(token_ids)]
            )
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

    def _stream(self, stream: int) -> None:
        """One inference stream's thread: cut a batch, run it, hand the outcome to the event loop.

        The next batch is cut before the event loop is woken: once awake, the loop takes
        the GIL for the RPCs it finishes, and the stream's core would idle meanwhile.
        """
        batch = self._queue.next_batch(stream)
        while batch is not None:
            outcome = self._infer_batch(batch)
            following = self._queue.next_batch(stream, timeout=0)
            try:
                self._loop.call_soon_threadsafe(outcome)
            except RuntimeError:  # the event loop closed while this batch ran: nobody is waiting
                return
            batch = following if following is not None else self._wait_for_work(stream)

    def _wait_for_work(self, stream: int) -> list[_Entry] | None:
        """The stream's next batch once one comes; `on_idle` runs (the backend hands back its
        batch memory there) if nothing comes within IDLE_AFTER_S: a client sending one request
        after another would otherwise pay for a release between every two."""
        if self._on_idle is None:
            return self._queue.next_batch(stream)
        batch = self._queue.next_batch(stream, timeout=IDLE_AFTER_S)
        if batch is not None or self._queue.closed:
            return batch
        try:
            self._on_idle()
        except Exception:  # the memory stays held until the next idle spell; serving goes on
            _log.exception("on_idle failed")
        return self._queue.next_batch(stream)

    def _infer_batch(self, batch: list[_Entry]) -> Callable[[], None]:
        """Run one batch; returns the callback that gives each request its results (or the error)."""
        started = time.perf_counter()
        self._metrics.batch_size.observe(len(batch))
        self._metrics.batch_tokens.observe(len(batch) * batch[-1].length)
        for entry in batch:
            self._metrics.queue_seconds.observe(started - entry.request.enqueued_at)
        failpoints.hold(failpoints.BEFORE_INFERENCE)
        try:
            with self._cpu:
                vectors = self._infer([e.token_ids for e in batch])
        except Exception as exc:  # the backend failed: every request in the batch learns why
            return partial(self._fail_batch, batch, exc)
        ended = time.perf_counter()
        self._metrics.inference_seconds.observe(ended - started)
        return partial(self._deliver, batch, vectors, started, ended)

    @staticmethod
    def _deliver(batch: list[_Entry], vectors: np.ndarray, started: float, ended: float) -> None:
        for entry, vector in zip(batch, vectors, strict=True):
            request = entry.request
            if request.remaining == request.size:
                request.first_start = started
            request.last_end = ended
            request.vectors[entry.position] = vector
            request.remaining -= 1
            if request.remaining == 0 and not request.future.done():
                request.future.set_result(None)

    @classmethod
    def _fail_batch(cls, batch: list[_Entry], exc: BaseException) -> None:
        for entry in batch:
            cls._fail(entry.request, exc)

    @staticmethod
    def _fail(request: _Request, exc: BaseException) -> None:
        request.cancelled = True
        if not request.future.done():
            request.future.set_exception(exc)
