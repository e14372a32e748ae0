"""Builds and runs the gRPC server, and the HTTP edge beside it (http/).

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
import sqlite3
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from embedtune_client.v1 import embedtune_pb2 as pb
from embedtune_client.v1 import embedtune_pb2_grpc as pb_grpc
from embedtune_server.auth import AuthInterceptor
from embedtune_server.bootstrap import active_model, cross_encoder_folder
from embedtune_server.corpus import Corpus
from embedtune_server.jobs.catalog import CatalogSource
from embedtune_server.jobs.context import JobContext
from embedtune_server.jobs.policy import AutoTrainPolicy
from embedtune_server.jobs.record import Job
from embedtune_server.jobs.retention import prune_job_folders, prune_versions, remove_leftovers
from embedtune_server.jobs.runner import JobRunner
from embedtune_server.launcher import HTTP_READY_LINE, READY_LINE
from embedtune_server.malformed import MalformedRequestInterceptor
from embedtune_server.metrics import MetricsInterceptor, ServerMetrics
from embedtune_server.reranking import Reranker, load_reranker
from embedtune_server.services.bundle import Servicers
from embedtune_server.services.rerank import Reranking
from embedtune_server.serving import BackendFactory, Capacity, StateBuilder, onnx_backend
from embedtune_server.settings import ServerSettings
from embedtune_server.state import ServingState, StateHolder
from embedtune_server.store import open_database
from embedtune_server.store.models import ModelRegistry

if TYPE_CHECKING:
    from embedtune_server.http.server import HttpServer

log = logging.getLogger(__name__)

# Between two batches an inference stream needs the GIL for a moment (to hand over its
# results and cut the next batch). Python's default switch interval (5 ms) lets the busy
# event loop keep the GIL that long while a stream's core idles (docs/architecture.md,
# "Threads and stages", has the measurement).
GIL_SWITCH_INTERVAL_S = 0.0002


def tune_process() -> None:
    """Process-wide settings for serving; called once by `serve`, never by library code.

    The tokenizer's own thread pool (rayon) is turned off unless the environment asks for
    it: a request's texts are short enough that its workers cost CPU without saving time,
    and that CPU is taken from inference (docs/architecture.md, "Threads and stages").
    Tokenising already overlaps inference on the batcher's tokenize thread.
    """
    sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


# Set to a file path to have the server write the names of its loaded modules there on
# shutdown: the tests use it to prove the server never imports torch.
DEBUG_MODULES_ENV = "EMBEDTUNE_DEBUG_MODULES_FILE"

SERVICE_NAMES = tuple(s.full_name for s in pb.DESCRIPTOR.services_by_name.values())


class EmbedtuneServer:
    """One server: its state, stores, gRPC server, job runner and background tasks."""

    def __init__(self, settings: ServerSettings, backend_factory: BackendFactory = onnx_backend) -> None:
        self.settings = settings
        self._backend_factory = backend_factory
        self.metrics = ServerMetrics()
        self.port = 0
        self._tasks: list[asyncio.Task] = []
        self._http: HttpServer | None = None

    async def start(self) -> None:
        settings = self.settings
        settings.home.mkdir(parents=True, exist_ok=True)
        self.database = await asyncio.to_thread(open_database, settings)
        self.corpus = Corpus(self.database, settings)
        registry = ModelRegistry(self.database)
        runner = JobRunner(self.database)
        for job in await asyncio.to_thread(runner.fail_unfinished):
            log.warning("job %d: %s", job.id, job.reason)
        model = await asyncio.to_thread(active_model, settings, self.database, registry)
        await asyncio.to_thread(remove_leftovers, settings.home, self.database, registry, self.corpus)
        capacity = Capacity.for_settings(settings, self.metrics)
        builder = StateBuilder(settings, self.corpus, capacity, self.metrics, self._backend_factory)
        self.holder = StateHolder(await builder.build(model))
        self.reranker = await self._load_reranker(capacity)
        # Read from the live state at each scrape: writes and swaps need not remember to update it.
        self.metrics.index_size.set_function(lambda: self.holder.current.index.size)
        self.jobs = JobContext(
            settings=settings,
            database=self.database,
            registry=registry,
            corpus=self.corpus,
            holder=self.holder,
            builder=builder,
            runner=runner,
            catalog=CatalogSource(settings.home / "jobs" / "loss-catalog.log"),
        )
        runner.finished_hooks.append(self._after_job)
        reranking = Reranking(settings, self.corpus, self.reranker, self.metrics)
        servicers = Servicers.build(settings, self.holder, self.corpus, self.jobs, reranking)
        self._server = self._build_grpc_server(servicers)
        if settings.http_port is not None:
            # Binds its port now: a taken one stops the start before either protocol serves.
            self._http = self._build_http_server(servicers)
        await self._server.start()
        if self._http is not None:
            await self._http.start()
        for name in ("", *SERVICE_NAMES):
            await self._health.set(name, health_pb2.HealthCheckResponse.SERVING)
        if settings.metrics_port:
            self.metrics.serve_http(settings.host, settings.metrics_port)
        self._tasks.append(asyncio.create_task(self._save_index_periodically()))
        if settings.auto_train_every:
            policy = AutoTrainPolicy(self.jobs, settings.auto_train_every, settings.auto_train_min_interval_s)
            self._tasks.append(asyncio.create_task(policy.run()))
        log.info("serving model %s (%s) on %s:%d", model.version, model.folder, settings.host, self.port)

    @property
    def http_port(self) -> int | None:
        """The HTTP edge's port, or None without --http-port."""
        return self._http.port if self._http is not None else None

    async def _load_reranker(self, capacity: Capacity) -> Reranker | None:
        """The `--cross-encoder`, exported first by the trainer if it has no ONNX graph; None without one."""
        if self.settings.cross_encoder is None:
            return None
        folder = await asyncio.to_thread(cross_encoder_folder, self.settings)
        reranker = await load_reranker(folder, self.settings, capacity, self.metrics)
        log.info("reranking with cross-encoder %s (%s)", reranker.version, folder)
        return reranker

    def _build_grpc_server(self, servicers: Servicers) -> grpc.aio.Server:
        settings = self.settings
        server = grpc.aio.server(
            interceptors=[
                MetricsInterceptor(self.metrics),
                AuthInterceptor(settings.api_key, settings.admin_key),
                MalformedRequestInterceptor(),
            ],
            options=[
                ("grpc.so_reuseport", 0),
                ("grpc.max_receive_message_length", settings.max_request_bytes),
            ],
        )
        pb_grpc.add_EmbedServiceServicer_to_server(servicers.embed, server)
        pb_grpc.add_IndexServiceServicer_to_server(servicers.index, server)
        pb_grpc.add_FeedbackServiceServicer_to_server(servicers.feedback, server)
        pb_grpc.add_TrainingServiceServicer_to_server(servicers.training, server)
        pb_grpc.add_ModelServiceServicer_to_server(servicers.models, server)
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

    def _build_http_server(self, servicers: Servicers) -> HttpServer:
        """The HTTP edge over the same servicers; imported only when --http-port asks for it."""
        from embedtune_server.http.app import build_app
        from embedtune_server.http.server import HttpServer

        return HttpServer(build_app(self.settings, servicers, self.holder, self.metrics), self.settings)

    async def _after_job(self, job: Job) -> None:
        """Retention after every job: the versions beyond --keep-versions go, and old job folders."""
        home = self.settings.home
        await asyncio.to_thread(
            prune_versions, home, self.database, self.jobs.registry, self.corpus, self.settings.keep_versions
        )
        await asyncio.to_thread(prune_job_folders, home)

    async def _save_index_periodically(self) -> None:
        """Bound the rebuild work after a crash; a failed save is tried again the next period."""
        while True:
            await asyncio.sleep(self.settings.index_save_interval_s)
            await self._save_index(self.holder.current)

    async def _save_index(self, state: ServingState) -> None:
        """Save the live index; a disk that refuses (full, read-only) costs only a warning.

        The index keeps serving from memory; the store stays the source of truth, so a
        restart before a save succeeds brings the index up to date from it.
        """
        try:
            await asyncio.to_thread(self.corpus.save_index, state)
        except (OSError, sqlite3.Error) as exc:
            log.warning("saving the index failed (%s): serving it from memory until a save succeeds", exc)

    async def stop(self) -> None:
        """Health NOT_SERVING, then refuse new RPCs while in-flight ones get the grace period (those
        still running after it are cancelled); end a running job, save the index, close the store."""
        await self._health.enter_graceful_shutdown()
        grace = self.settings.shutdown_grace_s
        log.info("health NOT_SERVING, new RPCs refused; in-flight RPCs get %ss to finish", grace)
        stopping = [self._server.stop(grace)]
        if self._http is not None:
            stopping.append(self._http.stop())
        await asyncio.gather(*stopping)
        for task in self._tasks:
            task.cancel()
        await self.jobs.runner.stop()
        state = self.holder.current
        await state.batcher.stop()
        if self.reranker is not None:
            await self.reranker.stop()
        await self._save_index(state)
        self.database.close()
        modules_file = os.environ.get(DEBUG_MODULES_ENV)
        if modules_file:
            Path(modules_file).write_text("\n".join(sorted(sys.modules)))


async def serve(settings: ServerSettings, backend_factory: BackendFactory = onnx_backend) -> None:
    """Run until SIGTERM or SIGINT, then shut down gracefully."""
    tune_process()
    server = EmbedtuneServer(settings, backend_factory)
    await server.start()
    if server.http_port is not None:
        print(f"{HTTP_READY_LINE}{settings.host}:{server.http_port}", flush=True)
    print(f"{READY_LINE}{settings.host}:{server.port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("shutting down")
    await server.stop()
