"""How a route calls its RPC: the servicer object the gRPC server uses, with a stand-in context.

The servicers use one thing of grpc.aio's ServicerContext, `abort(code, details)`
(services/errors.py); `CallContext.abort` raises `RpcFailure` instead, which the edge's
error handler answers with the matching HTTP status.

uvicorn does not cancel a request whose client went away: it only answers the next
`receive()` with `http.disconnect`. `until_disconnect` listens for that beside the
call and cancels the call when it comes, as grpc.aio cancels an RPC whose client
cancelled, so the batcher drops the inputs still queued.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

import grpc
from fastapi import Request
from google.protobuf.message import Message
from starlette.types import Receive

from embedtune_client.contract import method_path
from embedtune_client.v1 import embedtune_pb2 as pb
from embedtune_server.http.errors import RpcFailure
from embedtune_server.services.errors import status_of

T = TypeVar("T")


@dataclass(frozen=True)
class Rpc:
    """A method of embedtune.proto, by service and method name."""

    service: str
    method: str

    def __post_init__(self) -> None:
        service = pb.DESCRIPTOR.services_by_name.get(self.service)
        if service is None or self.method not in service.methods_by_name:
            raise ValueError(f"{self.path} is not a method of embedtune.proto")

    @property
    def path(self) -> str:
        """The gRPC method path, which auth and the admin-only mark are keyed by."""
        return method_path(self.service, self.method)

    @classmethod
    def from_path(cls, path: str) -> Rpc:
        qualified, _, method = path.strip("/").partition("/")
        return cls(qualified.rsplit(".", 1)[-1], method)


class CallContext:
    """What a servicer sees of the call when it is made over HTTP."""

    async def abort(self, code: grpc.StatusCode, details: str = "") -> None:
        raise RpcFailure(code, details, cause=sys.exc_info()[1])


def servicer(request: Request) -> Any:
    """The servicer object of the RPC of `request`'s route (`routing.RpcRoute`)."""
    return request.app.state.servicers.of(request.scope["route"].rpc.service)


async def call(request: Request, message: Message) -> Message:
    """Call the RPC of `request`'s route with `message`; cancelled if the client disconnects."""
    method = getattr(servicer(request), request.scope["route"].rpc.method)
    return await until_disconnect(request, method(message, CallContext()))


async def serve(request: Request, work: Coroutine[Any, Any, T]) -> T:
    """`work`, a service function (not a servicer method, which aborts with a status), with its
    domain errors refused as the servicers refuse them (`status_of`); cancelled if the client
    disconnects."""
    try:
        return await until_disconnect(request, work)
    except RpcFailure:
        raise
    except Exception as exc:
        raise RpcFailure(*status_of(exc), cause=exc) from exc


async def _disconnect(receive: Receive) -> None:
    """Returns once the client has gone; a body the route did not read is read and dropped."""
    while (await receive())["type"] != "http.disconnect":
        pass


async def until_disconnect(request: Request, work: Coroutine[Any, Any, T]) -> T:
    """`work`'s result, or CANCELLED (499) with `work` cancelled if the client disconnects first."""
    answer = asyncio.ensure_future(work)
    gone = asyncio.ensure_future(_disconnect(request.receive))
    try:
        await asyncio.wait((answer, gone), return_when=asyncio.FIRST_COMPLETED)
    finally:
        gone.cancel()
        if not answer.done():
            answer.cancel()
            await asyncio.wait((answer,))  # its inputs are marked cancelled before the refusal
    if answer.cancelled() and gone.done() and not gone.cancelled():
        raise RpcFailure(grpc.StatusCode.CANCELLED, "cancelled: the client disconnected")
    return answer.result()
