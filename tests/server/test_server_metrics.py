"""Prometheus `/metrics` of real servers, read back as numbers after calls whose effect is known.

Counters are compared before and after the calls, so the tests of one server do not
depend on each other's order. A server frozen before inference (a failpoint) holds a
request admitted with its inputs queued for as long as a test needs to look at it.
"""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import grpc
import pytest
from prometheus_client.parser import text_string_to_metric_families

from embedtune_client.v1 import embedtune_pb2 as pb
from embedtune_server.failpoints import BEFORE_INFERENCE, ENV
from embedtune_server.launcher import ServerProcess, free_port

EVENTUALLY_S = 60  # how long a server may take to reach a state a test waits for


@dataclass(frozen=True)
class Metrics:
    """One scrape: each sample's value by its name and labels.

    A labelled series appears on its first use, so an absent one reads as 0.
    """

    samples: dict[tuple[str, frozenset[tuple[str, str]]], float]

    def __call__(self, name: str, **labels: str) -> float:
        return self.samples.get((name, frozenset(labels.items())), 0.0)

    def requests(self, rpc: str, code: grpc.StatusCode) -> float:
        return self("embedtune_requests_total", protocol="grpc", rpc=rpc, code=code.name)

    def timed(self, rpc: str) -> float:
        """How many calls of `rpc` the latency histogram observed."""
        return self("embedtune_request_seconds_count", protocol="grpc", rpc=rpc)


@dataclass(frozen=True)
class MeteredServer:
    process: ServerProcess
    metrics_port: int

    def scrape(self) -> Metrics:
        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        text = urllib.request.urlopen(url, timeout=10).read().decode()
        return Metrics(
            {
                (sample.name, frozenset(sample.labels.items())): sample.value
                for family in text_string_to_metric_families(text)
                for sample in family.samples
            }
        )

    def scrape_until(self, done: Callable[[Metrics], bool]) -> Metrics:
        """The first scrape where `done` holds, or the last one after EVENTUALLY_S.

        The server gets there on its own time: a request reaches its queue, a call the client
        cancelled ends there.
        """
        deadline = time.monotonic() + EVENTUALLY_S
        metrics = self.scrape()
        while not done(metrics) and time.monotonic() < deadline:
            time.sleep(0.05)
            metrics = self.scrape()
        return metrics


def start_metered(launch, *flags: str, env: dict[str, str] | None = None) -> MeteredServer:
    port = free_port()
    return MeteredServer(launch("--metrics-port", str(port), *flags, env=env), port)


@pytest.fixture(scope="module")
def server(launch) -> MeteredServer:
    return start_metered(launch)


@pytest.fixture(scope="module")
def stubs(server):
    channel = server.process.channel()
    yield server.process.stubs(channel)
    channel.close()


@pytest.fixture
def frozen(launch) -> Iterator[MeteredServer]:
    """A server whose one inference stream stops at its first batch, of one input, for good."""
    flags = ("--max-concurrent-requests", "1", "--max-batch-requests", "1", "--inference-streams", "1")
    server = start_metered(launch, *flags, env={ENV: BEFORE_INFERENCE})
    yield server
    server.process.kill()


def code_of(call: Callable[[], object]) -> grpc.StatusCode:
    try:
        call()
    except grpc.RpcError as error:
        return error.code()
    return grpc.StatusCode.OK


def test_index_size_is_the_document_count_after_upserts_and_deletes(server, stubs):
    _, index, _ = stubs
    stored: set[str] = set()

    def upsert(*ids: str) -> None:
        index.Upsert(pb.UpsertRequest(documents=[pb.Document(id=i, text=f"document {i}") for i in ids]))
        stored.update(ids)

    def delete(*ids: str) -> None:
        index.Delete(pb.DeleteRequest(ids=ids))
        stored.difference_update(ids)

    changes = [(upsert, ("a", "b", "c")), (upsert, ("c", "d")), (delete, ("a", "b")), (delete, ("c", "d"))]
    for change, ids in changes:
        change(*ids)
        count = index.Count(pb.CountRequest()).count
        assert count == len(stored)
        assert server.scrape()("embedtune_index_size") == count


def test_unary_calls_are_counted_and_timed_by_rpc_and_code(server, stubs):
    embed, index, _ = stubs
    before = server.scrape()
    embed.Embed(pb.EmbedRequest(inputs=["one"]))
    embed.Embed(pb.EmbedRequest(inputs=["two", "three"]))
    index.Count(pb.CountRequest())
    assert code_of(lambda: embed.Embed(pb.EmbedRequest())) == grpc.StatusCode.INVALID_ARGUMENT
    # A call is counted once its handler has returned, which may be after the client has its
    # answer; one scrape reads the counter and the histogram at two moments, so wait for both.
    embed_codes = (grpc.StatusCode.OK, grpc.StatusCode.INVALID_ARGUMENT)
    after = server.scrape_until(
        lambda m: (
            m.timed("Embed") - before.timed("Embed") >= 3
            and sum(m.requests("Embed", c) - before.requests("Embed", c) for c in embed_codes) >= 3
            and m.timed("Count") - before.timed("Count") >= 1
            and m.requests("Count", grpc.StatusCode.OK) - before.requests("Count", grpc.StatusCode.OK) >= 1
        )
    )

    def added(read: Callable[[Metrics], float]) -> float:
        return read(after) - read(before)

    assert added(lambda m: m.requests("Embed", grpc.StatusCode.OK)) == 2
    assert added(lambda m: m.requests("Embed", grpc.StatusCode.INVALID_ARGUMENT)) == 1
    assert added(lambda m: m.requests("Count", grpc.StatusCode.OK)) == 1
    assert added(lambda m: m.timed("Embed")) == 3
    assert added(lambda m: m.timed("Count")) == 1
    assert (
        added(lambda m: m("embedtune_request_seconds_bucket", protocol="grpc", rpc="Embed", le="+Inf")) == 3
    )
    assert added(lambda m: m("embedtune_batch_size_sum")) == 3  # inputs embedded, however batched
    assert added(lambda m: m("embedtune_inference_seconds_count")) == added(
        lambda m: m("embedtune_batch_size_count")
    )


def test_a_stream_is_one_call_counted_with_its_final_code(server, stubs):
    embed, _, _ = stubs
    before = server.scrape()
    requests = [pb.EmbedRequest(inputs=[f"streamed {i}"]) for i in range(3)]
    assert len(list(embed.EmbedStream(iter(requests)))) == len(requests)
    refused = code_of(lambda: list(embed.EmbedStream(iter([requests[0], pb.EmbedRequest()]))))
    assert refused == grpc.StatusCode.INVALID_ARGUMENT
    codes = (grpc.StatusCode.OK, grpc.StatusCode.INVALID_ARGUMENT)
    # As for unary calls: the counter and the histogram may be read at two moments; wait for both.
    after = server.scrape_until(
        lambda m: (
            m.timed("EmbedStream") - before.timed("EmbedStream") >= 2
            and sum(m.requests("EmbedStream", c) - before.requests("EmbedStream", c) for c in codes) >= 2
        )
    )
    for code in codes:
        assert after.requests("EmbedStream", code) - before.requests("EmbedStream", code) == 1
    assert after.timed("EmbedStream") - before.timed("EmbedStream") == 2


def test_a_request_waiting_for_inference_is_in_flight_and_the_next_is_rejected(frozen):
    with frozen.process.channel() as channel:
        embed, _, _ = frozen.process.stubs(channel)
        waiting = embed.Embed.future(pb.EmbedRequest(inputs=["first", "second", "third"]))
        # Settled once the stream has cut its batch of one input and stopped before inference.
        settled = frozen.scrape_until(
            lambda m: m("embedtune_queue_size") == 2 and m("embedtune_batch_size_count") == 1
        )
        assert settled("embedtune_queue_size") == 2
        assert settled("embedtune_batch_size_count") == 1
        assert settled("embedtune_embed_in_flight") == 1
        refused = code_of(lambda: embed.Embed(pb.EmbedRequest(inputs=["one more"])))
        assert refused == grpc.StatusCode.RESOURCE_EXHAUSTED
        metrics = frozen.scrape_until(lambda m: m.requests("Embed", grpc.StatusCode.RESOURCE_EXHAUSTED) >= 1)
        assert metrics("embedtune_overload_rejections_total") == 1
        assert metrics.requests("Embed", grpc.StatusCode.RESOURCE_EXHAUSTED) == 1
        assert metrics("embedtune_embed_in_flight") == 1
        assert not waiting.done()


@pytest.mark.parametrize("rpc", ["Embed", "EmbedStream"])
def test_a_call_cancelled_by_the_client_is_counted_as_cancelled_and_leaves_admission(frozen, rpc):
    with frozen.process.channel() as channel:
        embed, _, _ = frozen.process.stubs(channel)
        request = pb.EmbedRequest(inputs=["never embedded"])
        call = embed.Embed.future(request) if rpc == "Embed" else embed.EmbedStream(iter([request]))
        admitted = frozen.scrape_until(lambda m: m("embedtune_embed_in_flight") == 1)
        assert admitted("embedtune_embed_in_flight") == 1
        call.cancel()
        ended = frozen.scrape_until(
            lambda m: m("embedtune_embed_in_flight") == 0 and m.requests(rpc, grpc.StatusCode.CANCELLED) > 0
        )
        assert ended("embedtune_embed_in_flight") == 0
        assert ended.requests(rpc, grpc.StatusCode.CANCELLED) == 1
        assert ended.timed(rpc) == 1
