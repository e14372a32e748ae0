"""Rebuilding a gRPC method handler around a new behaviour, for the server's interceptors."""

from __future__ import annotations

from collections.abc import Callable

import grpc

_FACTORIES = {
    (False, False): ("unary_unary", grpc.unary_unary_rpc_method_handler),
    (False, True): ("unary_stream", grpc.unary_stream_rpc_method_handler),
    (True, False): ("stream_unary", grpc.stream_unary_rpc_method_handler),
    (True, True): ("stream_stream", grpc.stream_stream_rpc_method_handler),
}


def rewrap(
    handler: grpc.RpcMethodHandler,
    wrap: Callable[[Callable, bool], Callable],
    request_deserializer: Callable[[bytes], object] | None = None,
) -> grpc.RpcMethodHandler:
    """A handler like `handler` whose behaviour is `wrap(behaviour, response_streaming)`,
    and whose request deserializer is `request_deserializer` if given."""
    attribute, factory = _FACTORIES[(handler.request_streaming, handler.response_streaming)]
    return factory(
        wrap(getattr(handler, attribute), handler.response_streaming),
        request_deserializer=request_deserializer or handler.request_deserializer,
        response_serializer=handler.response_serializer,
    )
