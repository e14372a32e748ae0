"""Builds and runs the gRPC server.

grpc.aio rather than grpc.server with a thread pool: one event loop holds any number
of waiting requests at no thread cost, so admission control (`max_concurrent_requests`)
is ours and fails fast instead of requests piling up unseen behind a busy pool, and a
cancelled RPC reaches its handler as CancelledError, which the batcher turns into
dropping that request's queued inputs. Blocking work leaves the loop: tokenising and
inference on the batcher's threads, SQLite and FAISS on `asyncio.to_thread`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from embedtune_client.v1 import embedtune_pb2 as pb
from embedtune_client.v1 import embedtune_pb2_grpc as pb_grpc
from embedtune_server.auth import AuthInterceptor
from embedtune_server.batching import TokenBudgetBatcher
from embedtune_server.bootstrap import ModelVersion, resolve_model
from embedtune_server.corpus import Corpus
from embedtune_server.launcher import READY_LINE
from embedtune_server.metrics import MetricsInterceptor, ServerMetrics
from embedtune_server.services.embed import EmbedServicer
from embedtune_server.services.feedback import FeedbackServicer
from embedtune_server.services.index import IndexServicer
from embedtune_server.settings import ServerSettings
from embedtune_server.state import EmbeddingBackend, ServingState, StateHolder
from embedtune_server.store import documents, feedback
from embedtune_server.store.database import Database

log = logging.getLogger(__name__)

# Between two batches an inference stream needs the GIL for a moment (to hand over its
# results and cut the next batch). Python's default switch interval (5 ms) lets the busy
# event loop keep the GIL that long while a stream's core idles; at 0.2 ms the server
# ran 0.97-1.0x the in-process backend under 8 clients x 32 sentences, against
# 0.89-0.96x at 5 ms (ad hoc, paired passes in one process).
GIL_SWITCH_INTERVAL_S = 0.0002


def tune_process() -> None:
    """Process-wide settings for serving; called once by `serve`, never by library code.

    The tokenizer's own thread pool (rayon) is turned off unless the environment asks for
    it: a request's texts are short enough that its workers cost CPU (1.7 ms instead of
    1.0 ms per 32 STSb sentences, ad hoc) without saving time, and that CPU is taken from
    inference. Tokenising already overlaps inference on the batcher's tokenize thread.
    """
    sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


# Set to a file path to have the server write the names of its loaded modules there on
# shutdown: the tests use it to prove the server never imports torch.
DEBUG_MODULES_ENV = "EMBEDTUNE_DEBUG_MODULES_FILE"

SERVICE_NAMES = tuple(s.full_name for s in pb.DESCRIPTOR.services_by_name.values())

BackendFactory = Callable[[ModelVersion, ServerSettings], EmbeddingBackend]


def onnx_backend(model: ModelVersion, settings: ServerSettings) -> EmbeddingBackend:
    from embedtune_server.backend.onnx_backend import OnnxBackend

    return OnnxBackend(
        model.folder,
        quantized=settings.quantize,
        intra_op_threads=settings.intra_op_threads,
        streams=settings.inference_streams,
    )


class EmbedtuneServer:
    """One server: its state, stores, gRPC server and background tasks."""

    def __init__(self, settings: ServerSettings, backend_factory: BackendFactory = onnx_backend) -> None:
        self.settings = settings
        self._backend_factory = backend_factory
        self.metrics = ServerMetrics()
        self.port = 0
        self._tasks: list[asyncio.Task] = []

    async def start(self) -> None:
        settings = self.settings
        settings.home.mkdir(parents=True, exist_ok=True)
        model = await asyncio.to_thread(resolve_model, settings)
        backend = await asyncio.to_thread(self._backend_factory, model, settings)
        if settings.max_batch_tokens < backend.max_seq_length:
            raise ValueError(
                f"max_batch_tokens={settings.max_batch_tokens} is below the model's"
                f" max_seq_length={backend.max_seq_length}: a long input could never be batched"
            )
        self.database = Database(
            settings.home / "embedtune.sqlite3",
            settings.sqlite_synchronous,
            [documents.SCHEMA, feedback.SCHEMA],
        )
        self.corpus = Corpus(self.database, settings)
        index = await asyncio.to_thread(
            self.corpus.open_index,
            self._index_folder(model.version),
            model.version,
            backend.dimension,
            backend.encode,
        )
        batcher = TokenBudgetBatcher(
            backend.tokenizer,
            backend.infer,
            max_batch_tokens=settings.max_batch_tokens,
            max_batch_requests=settings.max_batch_requests,
            max_concurrent_requests=settings.max_concurrent_requests,
            inference_streams=backend.streams,
            metrics=self.metrics,
        )
        await batcher.start()
        self.holder = StateHolder(
            ServingState(
                model_version=model.version,
                model_dir=model.folder,
                backend=backend,
                batcher=batcher,
                index=index,
                normalized=backend.normalized,
                quantized=settings.quantize,
            )
        )
        self._server = self._build_grpc_server()
        await self._server.start()
        for name in ("", *SERVICE_NAMES):
            await self._health.set(name, health_pb2.HealthCheckResponse.SERVING)
        if settings.metrics_port:
            self.metrics.serve_http(settings.host, settings.metrics_port)
        self._tasks.append(asyncio.create_task(self._save_index_periodically()))
        log.info("serving model %s (%s) on %s:%d", model.version, model.folder, settings.host, self.port)

    def _index_folder(self, version: str) -> Path:
        return self.settings.home / "index" / version

    def _build_grpc_server(self) -> grpc.aio.Server:
        settings = self.settings
        server = grpc.aio.server(
            interceptors=[
                MetricsInterceptor(self.metrics),
                AuthInterceptor(settings.api_key, settings.admin_key),
            ],
            options=[("grpc.so_reuseport", 0)],
        )
        pb_grpc.add_EmbedServiceServicer_to_server(EmbedServicer(settings, self.holder), server)
        pb_grpc.add_IndexServiceServicer_to_server(IndexServicer(settings, self.holder, self.corpus), server)
        pb_grpc.add_FeedbackServiceServicer_to_server(
            FeedbackServicer(settings, self.holder, self.corpus), server
        )
        self._health = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self._health, server)
        reflection.enable_server_reflection(
            (*SERVICE_NAMES, health.SERVICE_NAME, reflection.SERVICE_NAME), server
        )
        address = f"{settings.host}:{settings.port}"
        if settings.tls_cert is not None:
            credentials = grpc.ssl_server_credentials(
                [(settings.tls_key.read_bytes(), settings.tls_cert.read_bytes())]
            )
            self.port = server.add_secure_port(address, credentials)
        else:
            self.port = server.add_insecure_port(address)
        return server

    async def _save_index_periodically(self) -> None:
        """Bound the rebuild work after a crash; a failed save is logged and tried again later."""
        while True:
            await asyncio.sleep(self.settings.index_save_interval_s)
            state = self.holder.current
            folder = self._index_folder(state.model_version)
            try:
                await asyncio.to_thread(self.corpus.save_index, state, folder)
            except OSError:
                log.exception("saving the index failed; the store stays the source of truth")

    async def stop(self) -> None:
        """Stop taking RPCs, let in-flight ones finish, then save the index and close the store."""
        await self._health.enter_graceful_shutdown()
        await self._server.stop(self.settings.shutdown_grace_s)
        for task in self._tasks:
            task.cancel()
        state = self.holder.current
        await state.batcher.stop()
        await asyncio.to_thread(self.corpus.save_index, state, self._index_folder(state.model_version))
        self.database.close()
        modules_file = os.environ.get(DEBUG_MODULES_ENV)
        if modules_file:
            Path(modules_file).write_text("\n".join(sorted(sys.modules)))


async def serve(settings: ServerSettings, backend_factory: BackendFactory = onnx_backend) -> None:
    """Run until SIGTERM or SIGINT, then shut down gracefully."""
    tune_process()
    server = EmbedtuneServer(settings, backend_factory)
    await server.start()
    print(f"{READY_LINE}{settings.host}:{server.port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("shutting down")
    await server.stop()
