"""Prometheus metrics of one server, in a registry the server owns (not the global default).

Owning the registry keeps two servers in one process (tests, benchmarks) from
colliding, and lets `/metrics` show only what this server measured.
"""

from __future__ import annotations

import asyncio
import time

import grpc
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from embedtune_server.grpc_handlers import rewrap
from embedtune_server.memory import rss_bytes

# Seconds: 100 us .. 10 s, the span between a cached tokenisation and a big batch on a busy CPU.
_LATENCY_BUCKETS = (
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1,
    2.5,
    5,
    10,
)
_BATCH_SIZE_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)
_BATCH_TOKEN_BUCKETS = (16, 64, 256, 1024, 4096, 16384, 65536)


class ServerMetrics:
    """Every metric the server exports; pass it to the parts that measure."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "embedtune_requests",
            "requests finished, by protocol (grpc, http), RPC or route, and status code",
            ["protocol", "rpc", "code"],
            registry=r,
        )
        self.request_seconds = Histogram(
            "embedtune_request_seconds",
            "request latency by protocol and RPC or route",
            ["protocol", "rpc"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.in_flight = Gauge("embedtune_embed_in_flight", "embedding requests admitted", registry=r)
        self.queue_size = Gauge("embedtune_queue_size", "inputs waiting for a batch", registry=r)
        self.rejected = Counter(
            "embedtune_overload_rejections", "requests refused at max_concurrent_requests", registry=r
        )
        self.cancelled_inputs = Counter(
            "embedtune_cancelled_inputs",
            "inputs dropped before inference because their RPC ended",
            registry=r,
        )
        self.batch_size = Histogram(
            "embedtune_batch_size", "inputs per inference batch", buckets=_BATCH_SIZE_BUCKETS, registry=r
        )
        self.batch_tokens = Histogram(
            "embedtune_batch_tokens",
            "padded tokens per inference batch (inputs x longest)",
            buckets=_BATCH_TOKEN_BUCKETS,
            registry=r,
        )
        self.queue_seconds = Histogram(
            "embedtune_queue_seconds",
            "time an input waits for its batch",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.tokenize_seconds = Histogram(
            "embedtune_tokenize_seconds",
            "tokenisation time per request",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.inference_seconds = Histogram(
            "embedtune_inference_seconds", "ONNX Runtime time per batch", buckets=_LATENCY_BUCKETS, registry=r
        )
        self.index_size = Gauge("embedtune_index_size", "vectors in the live index", registry=r)
        self.resident_memory = Gauge(
            "embedtune_resident_memory_bytes", "the server process's resident memory (VmRSS)", registry=r
        )
        self.resident_memory.set_function(rss_bytes)

        self.rerank_pairs = Counter(
            "embedtune_rerank_pairs",
            "(query, text) pairs scored by the cross-encoder, by method (Rerank, Search, BatchSearch)",
            ["rpc"],
            registry=r,
        )

    def record_request(self, protocol: str, rpc: str, code: str, started: float) -> None:
        """Count one finished request and time it from `started` (a `time.perf_counter()` reading)."""
        self.requests.labels(protocol, rpc, code).inc()
        self.request_seconds.labels(protocol, rpc).observe(time.perf_counter() - started)

    def serve_http(self, host: str, port: int) -> None:
        """Expose `/metrics` on its own small HTTP server thread."""
        start_http_server(port, addr=host, registry=self.registry)


class MetricsInterceptor(grpc.aio.ServerInterceptor):
    """Counts every RPC by method and final status code, and times it."""

    def __init__(self, metrics: ServerMetrics) -> None:
        self._metrics = metrics

    async def intercept_service(self, continuation, details) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        if handler is None or not details.method.startswith("/embedtune."):
            return handler  # health and reflection are not worth a time series
        rpc = details.method.rsplit("/", 1)[-1]
        return rewrap(handler, lambda behaviour, streaming: self._measure(rpc, behaviour, streaming))

    def _record(self, rpc: str, code: grpc.StatusCode, started: float) -> None:
        self._metrics.record_request("grpc", rpc, code.name, started)

    def _measure(self, rpc: str, behaviour, streaming: bool):
        async def unary(request, context):
            started, code = time.perf_counter(), grpc.StatusCode.UNKNOWN
            try:
                response = await behaviour(request, context)
                code = context.code() or grpc.StatusCode.OK
                return response
            except asyncio.CancelledError:
                code = grpc.StatusCode.CANCELLED
                raise
            except grpc.aio.AbortError:
                code = context.code() or grpc.StatusCode.UNKNOWN
                raise
            finally:
                self._record(rpc, code, started)

        async def stream(request, context):
            started, code = time.perf_counter(), grpc.StatusCode.UNKNOWN
            try:
                async for response in behaviour(request, context):
                    yield response
                code = context.code() or grpc.StatusCode.OK
            except asyncio.CancelledError:
                code = grpc.StatusCode.CANCELLED
                raise
            except grpc.aio.AbortError:
                code = context.code() or grpc.StatusCode.UNKNOWN
                raise
            finally:
                self._record(rpc, code, started)

        return stream if streaming else unary
