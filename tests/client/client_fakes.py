"""An in-test embedtune server: the generated servicers with canned behaviour.

It embeds deterministically from a hash of the text, stores documents in a dict,
records the metadata and requests of every call, can fail the next N calls of a
method with a chosen status, and can hold Embed calls at a barrier so a test can see
how many are in flight together.
"""

from __future__ import annotations

import hashlib
import threading
from collections import defaultdict, deque
from concurrent import futures
from dataclasses import dataclass, field

import grpc
import numpy as np
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from embedtune_client import RetryPolicy
from embedtune_client.v1 import embedtune_pb2 as pb
from embedtune_client.v1 import embedtune_pb2_grpc as rpc

DIMENSION = 8
# Retries in tests wait milliseconds, not the default tenths of a second.
FAST_RETRY = RetryPolicy(max_attempts=4, initial_backoff=0.001, max_backoff=0.005)


def fake_vector(text: str, dimension: int = DIMENSION) -> np.ndarray:
    """The vector the fake server returns for `text`: unit length, seeded by its hash."""
    seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
    vector = np.random.default_rng(seed).standard_normal(dimension).astype(np.float32)
    return vector / np.linalg.norm(vector)


def _small_limits() -> pb.Limits:
    return pb.Limits(max_client_batch_size=4, max_feedback_items=2)


@dataclass
class FakeState:
    """What the fake server does and what it saw; tests set and read it directly."""

    limits: pb.Limits = field(default_factory=_small_limits)
    model_versions: deque[str] = field(default_factory=lambda: deque(["v1"]))
    documents: dict[str, pb.Document] = field(default_factory=dict)
    feedback: list[pb.FeedbackItem] = field(default_factory=list)
    requests: dict[str, list] = field(default_factory=lambda: defaultdict(list))
    metadata: dict[str, list[dict[str, str]]] = field(default_factory=lambda: defaultdict(list))
    failures: dict[str, deque[grpc.StatusCode | None]] = field(default_factory=lambda: defaultdict(deque))
    embed_barrier: threading.Barrier | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def fail(self, method: str, code: grpc.StatusCode, times: int = 1, after: int = 0) -> None:
        """Make `times` calls of `method` fail with `code`, once `after` more have succeeded."""
        self.failures[method].extend([None] * after + [code] * times)

    @property
    def model_version(self) -> str:
        """The current version; with several queued, each Embed call moves to the next."""
        return self.model_versions[0]

    def enter(self, method: str, request, context: grpc.ServicerContext) -> None:
        with self.lock:
            self.requests[method].append(request)
            self.metadata[method].append(dict(context.invocation_metadata()))
            code = self.failures[method].popleft() if self.failures[method] else None
        if code is not None:
            context.abort(code, f"injected {code.name} for {method}")

    def calls(self, method: str) -> int:
        return len(self.requests[method])


class _Embed(rpc.EmbedServiceServicer):
    def __init__(self, state: FakeState) -> None:
        self.state = state

    def Embed(self, request, context):
        self.state.enter("Embed", request, context)
        if self.state.embed_barrier is not None:
            self.state.embed_barrier.wait()
        with self.state.lock:
            version = self.state.model_version
            if len(self.state.model_versions) > 1:
                self.state.model_versions.popleft()
        dimension = request.dimensions or DIMENSION
        return pb.EmbedResponse(
            embeddings=[pb.Embedding(values=fake_vector(t)[:dimension].tolist()) for t in request.inputs],
            model_version=version,
            token_counts=[len(t.split()) for t in request.inputs],
            timings=pb.Timings(queue_us=1, tokenize_us=2, inference_us=3),
        )

    def Info(self, request, context):
        self.state.enter("Info", request, context)
        return pb.InfoResponse(
            model_version=self.state.model_version,
            model_name="fake-model",
            dimension=DIMENSION,
            max_seq_length=128,
            normalized=True,
            limits=self.state.limits,
            index_size=len(self.state.documents),
            index_type="flat",
            server_version="fake",
        )


class _Index(rpc.IndexServiceServicer):
    def __init__(self, state: FakeState) -> None:
        self.state = state

    def Upsert(self, request, context):
        self.state.enter("Upsert", request, context)
        limit = self.state.limits.max_client_batch_size
        if limit and len(request.documents) > limit:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"documents: {len(request.documents)} > {limit}")
        with self.state.lock:
            for document in request.documents:
                self.state.documents[document.id] = document
        return pb.UpsertResponse(upserted=len(request.documents), model_version=self.state.model_version)

    def Delete(self, request, context):
        self.state.enter("Delete", request, context)
        missing = [i for i in request.ids if i not in self.state.documents]
        if missing and not request.ignore_missing:
            context.abort(grpc.StatusCode.NOT_FOUND, f"unknown ids: {missing}")
        for i in request.ids:
            self.state.documents.pop(i, None)
        return pb.DeleteResponse(deleted=len(request.ids) - len(missing))

    def Get(self, request, context):
        self.state.enter("Get", request, context)
        missing = [i for i in request.ids if i not in self.state.documents]
        if missing:
            context.abort(grpc.StatusCode.NOT_FOUND, f"unknown ids: {missing}")
        return pb.GetResponse(documents=[self.state.documents[i] for i in request.ids])

    def Count(self, request, context):
        self.state.enter("Count", request, context)
        return pb.CountResponse(count=len(self.state.documents))

    def _search(self, request: pb.SearchRequest) -> pb.SearchResponse:
        if request.WhichOneof("query") == "text":
            query = fake_vector(request.text)
        else:
            query = np.asarray(request.vector.values, dtype=np.float32)
        wanted = request.filter.items()
        documents = self.state.documents.values()
        candidates = [d for d in documents if all(d.metadata.get(k) == v for k, v in wanted)]
        scored = sorted(((float(fake_vector(d.text) @ query), d) for d in candidates), key=lambda s: -s[0])
        hits = [pb.Hit(id=d.id, score=s, text=d.text, metadata=d.metadata) for s, d in scored[: request.k]]
        return pb.SearchResponse(hits=hits, model_version=self.state.model_version)

    def Search(self, request, context):
        self.state.enter("Search", request, context)
        return self._search(request)

    def BatchSearch(self, request, context):
        self.state.enter("BatchSearch", request, context)
        return pb.BatchSearchResponse(
            results=[self._search(q) for q in request.queries], model_version=self.state.model_version
        )


class _Feedback(rpc.FeedbackServiceServicer):
    def __init__(self, state: FakeState) -> None:
        self.state = state

    def SubmitFeedback(self, request, context):
        self.state.enter("SubmitFeedback", request, context)
        limit = self.state.limits.max_feedback_items
        if limit and len(request.items) > limit:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"items: {len(request.items)} > {limit}")
        with self.state.lock:
            first = len(self.state.feedback) + 1
            self.state.feedback.extend(request.items)
        return pb.SubmitFeedbackResponse(ids=range(first, first + len(request.items)))


class FakeServer:
    """A real gRPC server on 127.0.0.1 (port chosen by the OS) over a `FakeState`."""

    def __init__(self) -> None:
        self.state = FakeState()
        self.health = health.HealthServicer()
        self.health.set("", health_pb2.HealthCheckResponse.SERVING)
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=16))
        rpc.add_EmbedServiceServicer_to_server(_Embed(self.state), self._server)
        rpc.add_IndexServiceServicer_to_server(_Index(self.state), self._server)
        rpc.add_FeedbackServiceServicer_to_server(_Feedback(self.state), self._server)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self._server)
        port = self._server.add_insecure_port("127.0.0.1:0")
        self.target = f"127.0.0.1:{port}"

    def start(self) -> FakeServer:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop(grace=None)
