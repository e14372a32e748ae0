"""How a route calls its RPC: the servicer object the gRPC server uses, with a stand-in context.

The servicers use one thing of grpc.aio's ServicerContext, `abort(code, details)`
(services/errors.py); `CallContext.abort` raises `RpcFailure` instead, which the edge's
error handler answers with the matching HTTP status.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

import grpc
from fastapi import Request
from google.protobuf.message import Message

from embedtune_client.contract import method_path
from embedtune_client.v1 import embedtune_pb2 as pb
from embedtune_server.http.errors import RpcFailure


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
    """Call the RPC of `request`'s route with `message`."""
    return await getattr(servicer(request), request.scope["route"].rpc.method)(message, CallContext())
