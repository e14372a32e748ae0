"""The steps a transport executes, and the plans made of them.

A `Plan[T]` is a generator: it yields steps, receives each step's answer and finally
returns a `T`. Most steps are a list of unary `Call`s, answered with their responses
(in the same order); the calls of one list are independent and may run concurrently,
which is how embed chunks are pipelined, and a plan that needs a first answer before it
can build the next calls (the server's limits) just yields twice. A server stream is
two kinds of step: `Stream` opens it, `Read` takes its next message, so what to do with
each message, a broken stream or a deadline stays in the plan. Transports know nothing
of the operations; plans know nothing of transports.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import Any, TypeVar

from google.protobuf.message import Message

from embedtune_client.contract import ADMIN_METHODS
from embedtune_client.core import health
from embedtune_client.v1 import embedtune_pb2 as pb

T = TypeVar("T")


@dataclass(frozen=True)
class Rpc:
    """One method of the contract: unary, or server-streaming when `streaming`.

    `idempotent`: repeating it leaves the same state, so it may be retried.
    """

    path: str
    request_type: type[Message]
    response_type: type[Message]
    idempotent: bool = True
    streaming: bool = False

    @property
    def admin(self) -> bool:
        """Marked `admin_only` in the proto: it carries the admin key when one is set."""
        return self.path in ADMIN_METHODS

    @property
    def name(self) -> str:
        """The short method name, e.g. "Embed", for error messages."""
        return self.path.rsplit("/", 1)[-1]

    def bind(self, channel: Any) -> Any:
        """The callable for this method on a sync or asyncio channel."""
        kind = channel.unary_stream if self.streaming else channel.unary_unary
        return kind(
            self.path,
            request_serializer=self.request_type.SerializeToString,
            response_deserializer=self.response_type.FromString,
        )


@dataclass(frozen=True)
class Call:
    """One request to send with one `Rpc`."""

    rpc: Rpc
    request: Message


@dataclass(frozen=True)
class Stream:
    """Open a server-streaming call after waiting `delay` seconds (the backoff before a re-subscribe).

    `timeout` bounds the whole stream (None: no deadline); the client's per-call timeout
    would cut a stream that legitimately lasts minutes. The answer is the open stream, an
    opaque handle for `Read` steps; a plan that leaves it early calls its `cancel()`.
    """

    call: Call
    timeout: float | None
    delay: float = 0.0


@dataclass(frozen=True)
class Read:
    """Take the next message of an open stream.

    Answered with the message, None when the stream ended, or the `grpc.RpcError` that broke
    it: given as a value, not raised, so the plan decides whether to subscribe again.
    """

    stream: Any


Step = list[Call] | Stream | Read
Plan = Generator[Step, Any, T]

_EMBED = "/embedtune.v1.EmbedService/"
_INDEX = "/embedtune.v1.IndexService/"
_FEEDBACK = "/embedtune.v1.FeedbackService/"

EMBED = Rpc(_EMBED + "Embed", pb.EmbedRequest, pb.EmbedResponse)
INFO = Rpc(_EMBED + "Info", pb.InfoRequest, pb.InfoResponse)
RERANK = Rpc(_EMBED + "Rerank", pb.RerankRequest, pb.RerankResponse)
# Upsert replaces documents by id, so replaying it after a lost answer is harmless.
UPSERT = Rpc(_INDEX + "Upsert", pb.UpsertRequest, pb.UpsertResponse, idempotent=True)
# A replayed Delete would fail NOT_FOUND on ids the first attempt removed.
DELETE = Rpc(_INDEX + "Delete", pb.DeleteRequest, pb.DeleteResponse, idempotent=False)
GET = Rpc(_INDEX + "Get", pb.GetRequest, pb.GetResponse)
COUNT = Rpc(_INDEX + "Count", pb.CountRequest, pb.CountResponse)
SEARCH = Rpc(_INDEX + "Search", pb.SearchRequest, pb.SearchResponse)
BATCH_SEARCH = Rpc(_INDEX + "BatchSearch", pb.BatchSearchRequest, pb.BatchSearchResponse)
# A replayed SubmitFeedback would store the items twice.
SUBMIT_FEEDBACK = Rpc(
    _FEEDBACK + "SubmitFeedback",
    pb.SubmitFeedbackRequest,
    pb.SubmitFeedbackResponse,
    idempotent=False,
)
HEALTH_CHECK = Rpc(health.CHECK_METHOD, health.HealthCheckRequest, health.HealthCheckResponse)

_TRAINING = "/embedtune.v1.TrainingService/"
_MODELS = "/embedtune.v1.ModelService/"

# A replayed StartTraining would start a second job (or fail because the first one runs).
START_TRAINING = Rpc(_TRAINING + "StartTraining", pb.StartTrainingRequest, pb.Job, idempotent=False)
GET_JOB = Rpc(_TRAINING + "GetJob", pb.GetJobRequest, pb.Job)
LIST_JOBS = Rpc(_TRAINING + "ListJobs", pb.ListJobsRequest, pb.ListJobsResponse)
WATCH_JOB = Rpc(_TRAINING + "WatchJob", pb.GetJobRequest, pb.Job, streaming=True)
# Changes what runs: left to the caller, who can look with GetJob before repeating it.
CANCEL_JOB = Rpc(_TRAINING + "CancelJob", pb.GetJobRequest, pb.Job, idempotent=False)
LIST_MODELS = Rpc(_MODELS + "ListModels", pb.ListModelsRequest, pb.ListModelsResponse)
# Replays would start a second activation or registration job.
ACTIVATE_MODEL = Rpc(_MODELS + "ActivateModel", pb.ActivateModelRequest, pb.Job, idempotent=False)
ADD_MODEL = Rpc(_MODELS + "AddModel", pb.AddModelRequest, pb.Job, idempotent=False)
