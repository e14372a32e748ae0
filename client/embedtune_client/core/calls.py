"""The unit a transport executes: one unary call, and the plans made of them.

A `Plan[T]` is a generator: it yields a list of `Call`s, receives their responses
(in the same order) and finally returns a `T`. The calls of one list are independent
and may run concurrently, which is how embed chunks are pipelined; a plan that needs
a first answer before it can build the next calls (the server's limits) just yields
twice. Transports know nothing of the operations; plans know nothing of transports.
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
    """One unary method of the contract.

    `idempotent`: repeating it leaves the same state, so it may be retried.
    """

    path: str
    request_type: type[Message]
    response_type: type[Message]
    idempotent: bool = True

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
        return channel.unary_unary(
            self.path,
            request_serializer=self.request_type.SerializeToString,
            response_deserializer=self.response_type.FromString,
        )


@dataclass(frozen=True)
class Call:
    """One request to send with one `Rpc`."""

    rpc: Rpc
    request: Message


Plan = Generator[list[Call], list[Any], T]

_EMBED = "/embedtune.v1.EmbedService/"
_INDEX = "/embedtune.v1.IndexService/"
_FEEDBACK = "/embedtune.v1.FeedbackService/"

EMBED = Rpc(_EMBED + "Embed", pb.EmbedRequest, pb.EmbedResponse)
INFO = Rpc(_EMBED + "Info", pb.InfoRequest, pb.InfoResponse)
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
