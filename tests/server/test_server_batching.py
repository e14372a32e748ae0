"""The token-budget batcher with a fake tokenizer and backend: cuts, order, cancellation, overload."""

from __future__ import annotations

import asyncio
import threading

import numpy as np
import pytest

from embedtune_server import batching
from embedtune_server.batching import (
    BatcherClosedError,
    InputQueue,
    TokenBudgetBatcher,
    _Entry,
    _Request,
    cut_batch,
)
from embedtune_server.capacity import Admission, CpuBudget, OverloadedError
from embedtune_server.metrics import ServerMetrics


class WordTokenizer:
    """One token per word; the first token's id is the text's number so results can be traced."""

    def encode(self, texts, truncate=True, direction="right"):
        return [np.array([int(t.split()[0])] + [0] * (len(t.split()) - 1), dtype=np.int64) for t in texts]


class GatedBackend:
    """Records every batch; holds inference while `gate` is clear so requests pile up."""

    def __init__(self) -> None:
        self.batches: list[list[tuple[int, int]]] = []
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()
        self.fail = False

    def infer(self, token_ids):
        self.entered.set()
        self.gate.wait(10)
        if self.fail:
            raise RuntimeError("backend exploded")
        self.batches.append([(int(ids[0]), len(ids)) for ids in token_ids])
        # vector = (text number, length): lets the test check each input got its own result
        return np.array([[ids[0], len(ids)] for ids in token_ids], dtype=np.float32)


def text(number: int, length: int) -> str:
    return " ".join([str(number)] + ["w"] * (length - 1))


def make(
    backend, max_concurrent_requests: int = 100, admission=None, cpu=None, streams: int = 1, **limits
) -> TokenBudgetBatcher:
    metrics = ServerMetrics()
    return TokenBudgetBatcher(
        WordTokenizer(),
        backend.infer,
        metrics=metrics,
        admission=admission or Admission(max_concurrent_requests, metrics),
        cpu=cpu or CpuBudget(streams),
        inference_streams=streams,
        **{"max_batch_tokens": 1000, "max_batch_requests": 64, **limits},
    )


async def _hold_first_batch(batcher, backend) -> asyncio.Task:
    """Occupy the inference stage with text 0 so later requests queue up."""
    backend.gate.clear()
    backend.entered.clear()
    first = asyncio.create_task(batcher.embed([text(0, 1)]))
    while not backend.entered.is_set():
        await asyncio.sleep(0.001)
    return first


async def _run_piled_up(batcher, backend, requests: list[list[str]]) -> list:
    """Queue `requests` behind a held first batch, then let inference go; every result, first's first."""
    first = await _hold_first_batch(batcher, backend)
    waiting = [asyncio.create_task(batcher.embed(texts)) for texts in requests]
    await asyncio.sleep(0.05)
    backend.gate.set()
    return await asyncio.gather(first, *waiting)


def test_each_input_gets_its_own_result_in_input_order():
    async def run():
        backend = GatedBackend()
        batcher = make(backend)
        await batcher.start()
        results = await asyncio.gather(
            *(batcher.embed([text(10 * r + i, (7 * r + 3 * i) % 9 + 1) for i in range(5)]) for r in range(6))
        )
        await batcher.stop()
        return results

    for r, result in enumerate(asyncio.run(run())):
        assert result.embeddings[:, 0].tolist() == [10 * r + i for i in range(5)]
        assert result.token_counts == [(7 * r + 3 * i) % 9 + 1 for i in range(5)]
        assert result.embeddings[:, 1].tolist() == result.token_counts


def test_on_idle_runs_when_the_queue_runs_dry_not_between_queued_batches():
    """The backend hands back batch memory in `on_idle`: under load the next batch would only
    allocate it again, so it must wait until a stream finds nothing queued."""
    backend = GatedBackend()
    batches_at_idle: list[int] = []

    async def run():
        batcher = make(
            backend, max_batch_requests=1, on_idle=lambda: batches_at_idle.append(len(backend.batches))
        )
        await batcher.start()
        await _run_piled_up(batcher, backend, [[text(i, 2)] for i in range(1, 5)])
        for _ in range(1000):  # the stream calls on_idle after handing back the last results
            if batches_at_idle:
                break
            await asyncio.sleep(0.001)
        await batcher.stop()

    asyncio.run(run())
    assert len(backend.batches) == 5
    assert batches_at_idle == [5]


@pytest.mark.parametrize("idle_after_s", [0.0, 60.0])
def test_on_idle_waits_for_an_idle_spell_not_the_gap_between_two_requests(monkeypatch, idle_after_s):
    """One request after another: with no idle delay every gap releases, with a long one none does."""
    monkeypatch.setattr(batching, "IDLE_AFTER_S", idle_after_s)
    backend = GatedBackend()
    batches_at_idle: list[int] = []

    async def run():
        batcher = make(backend, on_idle=lambda: batches_at_idle.append(len(backend.batches)))
        await batcher.start()
        for i in range(3):
            await batcher.embed([text(i, 2)])
            await asyncio.sleep(0.01)
        await batcher.stop()

    asyncio.run(run())
    assert len(backend.batches) == 3
    assert batches_at_idle == ([1, 2, 3] if idle_after_s == 0 else [])


def test_batches_respect_request_cap_and_token_budget():
    async def run():
        backend = GatedBackend()
        batcher = make(backend, max_batch_requests=4, max_batch_tokens=30)
        await batcher.start()
        await _run_piled_up(batcher, backend, [[text(i, 10)] for i in range(1, 11)])
        await batcher.stop()
        return backend.batches

    batches = asyncio.run(run())
    assert sorted(n for batch in batches for n, _ in batch) == list(range(11))
    for batch in batches:
        assert len(batch) <= 4
        assert len(batch) * max(length for _, length in batch) <= 30
    assert max(len(b) for b in batches[1:]) == 3  # the token budget, not the cap, bound these


def test_an_input_longer_than_the_token_budget_runs_in_a_batch_of_its_own():
    async def run():
        backend = GatedBackend()
        batcher = make(backend, max_batch_requests=4, max_batch_tokens=30)
        await batcher.start()
        results = await _run_piled_up(batcher, backend, [[text(1, 50)], [text(2, 50)], [text(3, 10)]])
        await batcher.stop()
        return backend.batches, results

    batches, results = asyncio.run(run())
    assert [(1, 50)] in batches and [(2, 50)] in batches  # two would pad to 100 > 30
    assert [r.embeddings[0].tolist() for r in results[1:]] == [[1, 50], [2, 50], [3, 10]]


def test_oldest_input_goes_first_and_similar_lengths_batch_together():
    async def run():
        backend = GatedBackend()
        batcher = make(backend, max_batch_tokens=4000)
        await batcher.start()
        await _run_piled_up(batcher, backend, [[text(1, 100)], *([text(n, 5)] for n in range(2, 12))])
        await batcher.stop()
        return backend.batches

    batches = asyncio.run(run())
    assert batches[0] == [(0, 1)]
    assert 1 in [n for n, _ in batches[1]]  # the oldest waiting input is never passed over
    # padding 10 short inputs to 100 tokens would waste most of the batch: they go apart
    short_batches = [b for b in batches[1:] if 1 not in [n for n, _ in b]]
    assert sum(len(b) for b in short_batches) >= 9
    for batch in batches:
        lengths = [length for _, length in batch]
        assert lengths == sorted(lengths)


def test_cut_batch_prefers_the_oldest_and_keeps_padding_low():
    request = _Request(future=None, size=1, enqueued_at=0.0)
    lengths = [50, 10, 49, 12, 50, 11, 70, 49]
    pending = [_Entry(request, 0, np.zeros(n, np.int64), i) for i, n in enumerate(lengths)]
    batch, rest = cut_batch(pending, max_batch_requests=8, max_batch_tokens=10_000)
    assert [e.length for e in batch] == [49, 49, 50, 50]
    assert [e.length for e in rest] == [10, 12, 11, 70]
    batch, rest = cut_batch(rest, max_batch_requests=2, max_batch_tokens=10_000)
    assert [e.length for e in batch] == [10, 11] and [e.length for e in rest] == [12, 70]


def test_cut_batch_pads_no_input_by_more_than_a_thirty_second_of_the_longest():
    request = _Request(future=None, size=1, enqueued_at=0.0)

    def cut(lengths):
        pending = [_Entry(request, 0, np.zeros(n, np.int64), i) for i, n in enumerate(lengths)]
        return [e.length for e in cut_batch(pending, max_batch_requests=8, max_batch_tokens=10_000)[0]]

    assert cut([20, 18, 21, 22]) == [20, 21]  # 1 token of padding is allowed; 18 or 22 would pad 2
    assert cut([128, 124, 123, 133]) == [124, 128]  # 4 <= 128 // 32; 123 would make it 5, 133 pad 9
    assert cut([100, 100, 99, 100]) == [99, 100, 100, 100]


def test_cut_batch_padding_bound_is_a_parameter():
    request = _Request(future=None, size=1, enqueued_at=0.0)
    pending = [_Entry(request, 0, np.zeros(n, np.int64), i) for i, n in enumerate([20, 17, 24, 16])]
    loose = cut_batch(pending, 8, 10_000, padding_share=8, padding_slack=2)[0]
    assert [e.length for e in loose] == [20]  # 17 would pad 3 > max(20 // 8, 2)
    looser = cut_batch(pending, 8, 10_000, padding_share=2, padding_slack=16)[0]
    assert [e.length for e in looser] == [16, 17, 20, 24]


def test_input_queue_wakes_a_waiting_stream_and_hands_back_everything_on_close():
    queue = InputQueue(max_batch_requests=2, max_batch_tokens=1000, metrics=ServerMetrics())
    request = _Request(future=None, size=3, enqueued_at=0.0)
    entries = [_Entry(request, i, np.zeros(4, np.int64), i) for i in range(3)]
    cut: list = []
    waiting = threading.Thread(target=lambda: cut.append(queue.next_batch(stream=0)))
    waiting.start()
    queue.put(entries)
    waiting.join(5)
    assert cut == [entries[:2]]  # the blocked stream woke up and cut within max_batch_requests
    idle = threading.Thread(target=lambda: cut.append(queue.next_batch(stream=1)))
    left = sorted(e.position for e in queue.close())
    idle.start()
    idle.join(5)
    assert not idle.is_alive() and cut[-1] is None  # a closed queue releases its streams
    assert left == [0, 1, 2]  # stream 0's running batch and the input still waiting
    assert queue.next_batch(stream=0, timeout=0) is None
    with pytest.raises(BatcherClosedError):
        queue.put(entries[:1])


def test_cancelled_request_is_dropped_before_inference():
    """A request cancelled while queued reaches no inference; its inputs are counted as cancelled."""

    async def run():
        backend = GatedBackend()
        batcher = make(backend)
        await batcher.start()
        first = await _hold_first_batch(batcher, backend)
        keep = asyncio.create_task(batcher.embed([text(1, 3)]))
        cancel = asyncio.create_task(batcher.embed([text(2, 3), text(3, 4)]))
        await asyncio.sleep(0.05)
        cancel.cancel()
        await asyncio.sleep(0.01)
        backend.gate.set()
        await asyncio.gather(first, keep)
        with pytest.raises(asyncio.CancelledError):
            await cancel
        cancelled = batcher._metrics.cancelled_inputs._value.get()
        await batcher.stop()
        return backend.batches, cancelled

    batches, cancelled = asyncio.run(run())
    seen = [n for batch in batches for n, _ in batch]
    assert sorted(seen) == [0, 1]  # the held text and the kept one: neither input of the cancelled request
    assert cancelled == 2


def test_overload_fails_fast_and_recovers():
    async def run():
        backend = GatedBackend()
        batcher = make(backend, max_concurrent_requests=2)
        await batcher.start()
        first = await _hold_first_batch(batcher, backend)
        second = asyncio.create_task(batcher.embed([text(1, 2)]))
        await asyncio.sleep(0.01)
        with pytest.raises(OverloadedError, match="max_concurrent_requests=2"):
            await batcher.embed([text(2, 2)])
        backend.gate.set()
        await asyncio.gather(first, second)
        after = await batcher.embed([text(3, 2)])
        await batcher.stop()
        return after

    assert asyncio.run(run()).embeddings[0, 0] == 3


def test_backend_error_reaches_every_request_in_the_batch():
    async def run():
        backend = GatedBackend()
        backend.fail = True
        batcher = make(backend)
        await batcher.start()
        results = await asyncio.gather(
            *(batcher.embed([text(i, 2)]) for i in range(3)), return_exceptions=True
        )
        backend.fail = False
        after = await batcher.embed([text(7, 2)])
        await batcher.stop()
        return results, after

    results, after = asyncio.run(run())
    assert all(isinstance(r, RuntimeError) and "exploded" in str(r) for r in results)
    assert after.embeddings[0, 0] == 7


def test_stop_fails_waiting_requests():
    async def run():
        backend = GatedBackend()
        batcher = make(backend)
        await batcher.start()
        first = await _hold_first_batch(batcher, backend)
        waiting = asyncio.create_task(batcher.embed([text(1, 2)]))
        await asyncio.sleep(0.02)
        stopping = asyncio.create_task(batcher.stop())
        await asyncio.sleep(0.02)
        backend.gate.set()
        await stopping
        return await asyncio.gather(first, waiting, return_exceptions=True)

    results = asyncio.run(run())
    assert isinstance(results[1], BatcherClosedError)


class CountingBackend:
    """Holds every batch until `release`; records the most batches inside `infer` at once."""

    def __init__(self) -> None:
        self.inside = 0
        self.most_inside = 0
        self.lock = threading.Lock()
        self.release = threading.Event()

    def infer(self, token_ids):
        with self.lock:
            self.inside += 1
            self.most_inside = max(self.most_inside, self.inside)
        self.release.wait(10)
        with self.lock:
            self.inside -= 1
        return np.array([[ids[0], len(ids)] for ids in token_ids], dtype=np.float32)


@pytest.mark.parametrize("streams", [1, 2, 3])
def test_streams_bound_the_batches_running_at_once(streams):
    async def run():
        backend = CountingBackend()
        # one input per batch: six batches compete for the streams
        batcher = make(backend, streams=streams, max_batch_requests=1)
        await batcher.start()
        tasks = [asyncio.create_task(batcher.embed([text(i, 2)])) for i in range(6)]
        for _ in range(500):  # until every stream holds a batch (at most 5 s)
            if backend.inside == streams:
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)  # room for a batch beyond the streams to get in, were that possible
        backend.release.set()
        results = await asyncio.gather(*tasks)
        await batcher.stop()
        return backend.most_inside, results

    most_inside, results = asyncio.run(run())
    assert most_inside == streams
    assert [r.embeddings[0, 0] for r in results] == list(range(6))


def test_batchers_sharing_a_cpu_budget_and_admission_stay_within_them():
    """Two states alive during a swap: their streams together run at most `slots` batches."""

    async def run():
        backend = CountingBackend()
        metrics = ServerMetrics()
        admission, cpu = Admission(5, metrics), CpuBudget(1)
        old, new = (
            make(backend, admission=admission, cpu=cpu, streams=2, max_batch_requests=1) for _ in range(2)
        )
        await old.start()
        await new.start()
        tasks = [asyncio.create_task(b.embed([text(i, 2)])) for i, b in enumerate([old, new] * 2 + [old])]
        for _ in range(100):  # until one batch runs and the other requests wait for the budget
            if backend.inside:
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)
        with pytest.raises(OverloadedError, match="max_concurrent_requests=5"):
            await new.embed([text(9, 2)])
        backend.release.set()
        results = await asyncio.gather(*tasks)
        await old.stop()
        await new.stop()
        return backend.most_inside, results, admission.in_flight

    most_inside, results, in_flight = asyncio.run(run())
    assert most_inside == 1
    assert [r.embeddings[0, 0] for r in results] == [0, 1, 2, 3, 4]
    assert in_flight == 0
