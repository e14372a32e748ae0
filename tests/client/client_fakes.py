"""An in-test embedtune server: the generated servicers with canned behaviour.

It embeds deterministically from a hash of the text, stores documents in a dict,
records the metadata and requests of every call, can fail the next N calls of a
method with a chosen status, and can hold Embed calls at a barrier so a test can see
how many are in flight together. Jobs follow a script per job kind: each WatchJob
message moves the job one scripted step on, and a stream can be told to break with
UNAVAILABLE after N messages, as a restarting server would.
"""

from __future__ import annotations

import hashlib
import threading
import time
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


def job_step(
    state: int, done: int = 0, total: int = 0, unit: str = "", eta_s: float = 0.0, **fields
) -> pb.Job:
    """One scripted step: the job's next state and progress; other fields merge into the job."""
    progress = pb.JobProgress(done=done, total=total, unit=unit, eta_s=eta_s)
    return pb.Job(state=state, progress=progress, **fields)


PASSED_GATE = pb.Gate(metric="cosine_accuracy", active_score=0.8, new_score=0.875, margin=0.01, passed=True)
FAILED_GATE = pb.Gate(metric="cosine_accuracy", active_score=0.8, new_score=0.795, margin=0.01, passed=False)
SECONDS = {"queued": 0.5, "training": 12.25, "evaluating": 1.5, "exporting": 2.0, "reindexing": 0.75}


def training_script(passes: bool = True) -> list[pb.Job]:
    """A training job's steps after "queued": trained in 4 steps, gated, then activated or rejected."""
    trained = [job_step(pb.JOB_STATE_TRAINING, done, 4, "steps", eta_s=4 - done) for done in (0, 2, 4)]
    evaluating = job_step(pb.JOB_STATE_EVALUATING, metrics_active={"cosine_accuracy": 0.8})
    if not passes:
        return [
            *trained,
            evaluating,
            job_step(
                pb.JOB_STATE_REJECTED,
                gate=FAILED_GATE,
                metrics_new={"cosine_accuracy": 0.795},
                reason="the new version scored 0.795, not above 0.8 + 0.01",
                state_seconds={k: SECONDS[k] for k in ("queued", "training", "evaluating")},
            ),
        ]
    return [
        *trained,
        evaluating,
        job_step(pb.JOB_STATE_EXPORTING, gate=PASSED_GATE, metrics_new={"cosine_accuracy": 0.875}),
        job_step(pb.JOB_STATE_REINDEXING, 0, 3, "documents"),
        job_step(pb.JOB_STATE_REINDEXING, 3, 3, "documents"),
        job_step(pb.JOB_STATE_ACTIVATED, state_seconds=SECONDS),
    ]


def _job_scripts() -> dict[int, list[pb.Job]]:
    return {
        pb.JOB_KIND_TRAIN: training_script(),
        pb.JOB_KIND_ACTIVATE: [
            job_step(pb.JOB_STATE_REINDEXING, 2, 2, "documents"),
            job_step(pb.JOB_STATE_ACTIVATED, state_seconds={"reindexing": 0.25}),
        ],
        pb.JOB_KIND_ADD_MODEL: [
            job_step(pb.JOB_STATE_EXPORTING),
            job_step(pb.JOB_STATE_ACTIVATED, state_seconds={"exporting": 3.0}),
        ],
    }


def _models() -> list[pb.ModelVersionInfo]:
    return [
        pb.ModelVersionInfo(
            version="v1", base_model="fake-model", created_at=1_700_000_000.0, active=True, status="ready"
        ),
        pb.ModelVersionInfo(
            version="v2",
            parent="v1",
            base_model="fake-model",
            created_at=1_700_000_600.0,
            losses={"triplet": "TripletLoss"},
            feedback_counts={"triplet": 40},
            metrics={"cosine_accuracy": 0.875},
            job_id=1,
            status="ready",
        ),
    ]


def _copy(job: pb.Job) -> pb.Job:
    copy = pb.Job()
    copy.CopyFrom(job)
    return copy


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
    jobs: dict[int, pb.Job] = field(default_factory=dict)
    job_scripts: dict[int, list[pb.Job]] = field(default_factory=_job_scripts)
    job_steps_left: dict[int, deque[pb.Job]] = field(default_factory=dict)
    watch_breaks: deque[int] = field(default_factory=deque)
    watch_interval: float = 0.0
    models: list[pb.ModelVersionInfo] = field(default_factory=_models)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def fail(self, method: str, code: grpc.StatusCode, times: int = 1, after: int = 0) -> None:
        """Make `times` calls of `method` fail with `code`, once `after` more have succeeded."""
        self.failures[method].extend([None] * after + [code] * times)

    def break_watch(self, after: int) -> None:
        """Make the next WatchJob stream fail with UNAVAILABLE after sending `after` messages."""
        self.watch_breaks.append(after)

    def start_job(self, kind: int, **fields) -> pb.Job:
        """A queued job of `kind` that will follow `job_scripts[kind]`."""
        with self.lock:
            job_id = len(self.jobs) + 1
            job = pb.Job(
                id=job_id,
                kind=kind,
                state=pb.JOB_STATE_QUEUED,
                base_version=self.model_version,
                created_at=1_700_001_000.0 + job_id,
                **fields,
            )
            self.jobs[job_id] = job
            self.job_steps_left[job_id] = deque(self.job_scripts[kind])
            return _copy(job)

    def job(self, job_id: int, context: grpc.ServicerContext) -> pb.Job:
        with self.lock:
            if job_id not in self.jobs:
                context.abort(grpc.StatusCode.NOT_FOUND, f"no job {job_id}")
            return _copy(self.jobs[job_id])

    def advance(self, job_id: int) -> pb.Job | None:
        """The job after its next scripted step; None when the script has no more steps."""
        with self.lock:
            job, steps = self.jobs[job_id], self.job_steps_left[job_id]
            if not steps:
                return None
            step = steps.popleft()
            job.MergeFrom(step)
            job.progress.CopyFrom(step.progress)
            if job.state >= pb.JOB_STATE_ACTIVATED:
                job.finished_at = job.created_at + 20.0
            return _copy(job)

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


class _Training(rpc.TrainingServiceServicer):
    def __init__(self, state: FakeState) -> None:
        self.state = state

    def StartTraining(self, request, context):
        self.state.enter("StartTraining", request, context)
        # The server records what it used: its defaults, overridden by what was asked.
        options = pb.TrainingOptions(epochs=1.0, batch_size=16, learning_rate=2e-5, held_out_fraction=0.25)
        options.MergeFrom(request.options)
        return self.state.start_job(
            pb.JOB_KIND_TRAIN,
            options=options,
            version=f"v{len(self.state.models) + 1}",
            feedback_first_id=1,
            feedback_last_id=40,
            feedback_counts={"triplet": 40},
        )

    def GetJob(self, request, context):
        self.state.enter("GetJob", request, context)
        return self.state.job(request.id, context)

    def ListJobs(self, request, context):
        self.state.enter("ListJobs", request, context)
        with self.state.lock:
            newest_first = sorted(self.state.jobs.values(), key=lambda job: -job.id)
        return pb.ListJobsResponse(jobs=newest_first[: request.limit or 50])

    def WatchJob(self, request, context):
        self.state.enter("WatchJob", request, context)
        job = self.state.job(request.id, context)
        with self.state.lock:
            break_after = self.state.watch_breaks.popleft() if self.state.watch_breaks else None
        sent = 0
        while True:
            if sent == break_after:
                context.abort(grpc.StatusCode.UNAVAILABLE, "injected: the server is restarting")
            yield job
            sent += 1
            if job.state >= pb.JOB_STATE_ACTIVATED:
                return
            time.sleep(self.state.watch_interval)
            job = self.state.advance(request.id)
            if job is None:  # the script stops short of an end: hold the stream until the client leaves
                while context.is_active():
                    time.sleep(0.01)
                return

    def CancelJob(self, request, context):
        self.state.enter("CancelJob", request, context)
        self.state.job(request.id, context)
        with self.state.lock:
            job = self.state.jobs[request.id]
            if job.state < pb.JOB_STATE_ACTIVATED:
                job.state = pb.JOB_STATE_CANCELLED
                job.reason = "cancelled by request"
                job.finished_at = job.created_at + 5.0
                self.state.job_steps_left[request.id].clear()
            return _copy(job)


class _Models(rpc.ModelServiceServicer):
    def __init__(self, state: FakeState) -> None:
        self.state = state

    def ListModels(self, request, context):
        self.state.enter("ListModels", request, context)
        return pb.ListModelsResponse(models=self.state.models)

    def ActivateModel(self, request, context):
        self.state.enter("ActivateModel", request, context)
        if request.version not in {model.version for model in self.state.models}:
            context.abort(grpc.StatusCode.NOT_FOUND, f"no model version {request.version!r}")
        return self.state.start_job(pb.JOB_KIND_ACTIVATE, version=request.version)

    def AddModel(self, request, context):
        self.state.enter("AddModel", request, context)
        return self.state.start_job(pb.JOB_KIND_ADD_MODEL, version=f"v{len(self.state.models) + 1}")


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
        rpc.add_TrainingServiceServicer_to_server(_Training(self.state), self._server)
        rpc.add_ModelServiceServicer_to_server(_Models(self.state), self._server)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self._server)
        port = self._server.add_insecure_port("127.0.0.1:0")
        self.target = f"127.0.0.1:{port}"

    def start(self) -> FakeServer:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop(grace=None)
