"""Requests that are not valid protobuf get INVALID_ARGUMENT naming the problem.

grpc.aio turns a request deserializer's DecodeError (broken wire format, or a string
field that is not UTF-8) into UNKNOWN "Unexpected DecodeError" and logs a traceback for
every such call, so a client's mistake reads as a server bug and a hostile client can
fill the log. Here every handler's deserializer returns a `Malformed` marker instead of
raising, and its behaviour aborts with INVALID_ARGUMENT when it meets one, logging one
warning line. In a request stream the marker aborts the call when the handler reads it.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import grpc
from google.protobuf.message import DecodeError

from embedtune_server.grpc_handlers import rewrap

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Malformed:
    """What the deserializer hands on in place of a request it could not parse."""

    reason: str


def _tolerant(deserializer: Callable[[bytes], object]) -> Callable[[bytes], object]:
    def deserialize(data: bytes) -> object:
        try:
            return deserializer(data)
        except (DecodeError, UnicodeDecodeError) as exc:  # the pure-Python protobuf raises the latter
            return Malformed(str(exc))

    return deserialize


async def _refuse(method: str, request: Malformed, context: grpc.aio.ServicerContext) -> None:
    log.warning("%s: refused a malformed request: %s", method, request.reason)
    await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"malformed request: {request.reason}")


def _admit_one(method: str) -> Callable[..., Awaitable]:
    async def admit(request, context: grpc.aio.ServicerContext):
        if isinstance(request, Malformed):
            await _refuse(method, request, context)
        return request

    return admit


def _admit_stream(method: str) -> Callable[..., Awaitable]:
    async def checked(requests: AsyncIterator, context: grpc.aio.ServicerContext) -> AsyncIterator:
        async for request in requests:
            if isinstance(request, Malformed):
                await _refuse(method, request, context)
            yield request

    async def admit(requests: AsyncIterator, context: grpc.aio.ServicerContext) -> AsyncIterator:
        return checked(requests, context)

    return admit


def _guarded(behaviour: Callable, admit: Callable[..., Awaitable]) -> Callable:
    """`behaviour` given `admit(request)` instead of the request; of the same kind, since
    grpc.aio tells an async generator (a response stream) from a coroutine by its function."""
    if inspect.isasyncgenfunction(behaviour):

        async def stream(request, context: grpc.aio.ServicerContext):
            async for response in behaviour(await admit(request, context), context):
                yield response

        return stream

    async def call(request, context: grpc.aio.ServicerContext):
        return await behaviour(await admit(request, context), context)

    return call


class MalformedRequestInterceptor(grpc.aio.ServerInterceptor):
    """Put it last among the interceptors, so auth still refuses an unauthenticated caller first."""

    async def intercept_service(
        self, continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]], details
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        if handler is None or handler.request_deserializer is None:
            return handler
        admit = (_admit_stream if handler.request_streaming else _admit_one)(details.method)
        return rewrap(
            handler,
            lambda behaviour, _streaming: _guarded(behaviour, admit),
            request_deserializer=_tolerant(handler.request_deserializer),
        )
