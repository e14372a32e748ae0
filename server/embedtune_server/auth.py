"""API keys as Bearer tokens in the `authorization` metadata (or HTTP header).

- `--api-key` guards every RPC except health checking and server reflection, which
  stay open so load balancers and tools like grpcurl can probe the server.
- `--admin-key` guards the methods marked `admin_only` in the proto (the writes,
  training and models); the api key on them is PERMISSION_DENIED. Without an admin
  key they need the api key.
- A missing, empty or unknown key is UNAUTHENTICATED. Keys are compared in constant time.
  The server refuses to start with an empty or blank key (`ServerSettings`).

The HTTP edge calls `check` with the RPC each route calls, so both protocols share
one rule. Keys travel in clear text unless the server has TLS (`--tls-cert/--tls-key`).
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable

import grpc

from embedtune_client.contract import ADMIN_METHODS
from embedtune_server.grpc_handlers import rewrap

OPEN_PREFIXES = (
    "/grpc.health.v1.Health/",
    "/grpc.reflection.v1alpha.ServerReflection/",
    "/grpc.reflection.v1.",
)


def _equal(given: str | None, key: str | None) -> bool:
    """An empty token or key never matches: `authorization: Bearer` alone must not pass for a key."""
    return bool(given) and bool(key) and hmac.compare_digest(given.encode(), key.encode())


def check(
    method: str, token: str | None, api_key: str | None, admin_key: str | None
) -> tuple[grpc.StatusCode, str] | None:
    """The refusal for calling `method` with `token`, or None if allowed."""
    if method.startswith(OPEN_PREFIXES):
        return None
    if method in ADMIN_METHODS and admin_key is not None:
        if _equal(token, admin_key):
            return None
        if _equal(token, api_key):
            return grpc.StatusCode.PERMISSION_DENIED, f"{method} needs the admin key; the api key only reads"
        return grpc.StatusCode.UNAUTHENTICATED, f"{method} needs 'authorization: Bearer <admin key>'"
    if api_key is None or _equal(token, api_key) or _equal(token, admin_key):
        return None
    return grpc.StatusCode.UNAUTHENTICATED, f"{method} needs 'authorization: Bearer <api key>'"


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `authorization: Bearer <token>` value (gRPC metadata or HTTP header)."""
    if authorization is None:
        return None
    scheme, _, token = authorization.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


def _bearer(metadata) -> str | None:
    for key, value in metadata or ():
        if key == "authorization":
            return bearer_token(value)
    return None


class AuthInterceptor(grpc.aio.ServerInterceptor):
    def __init__(self, api_key: str | None, admin_key: str | None) -> None:
        self._api_key = api_key
        self._admin_key = admin_key

    async def intercept_service(
        self, continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]], details
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        refusal = check(details.method, _bearer(details.invocation_metadata), self._api_key, self._admin_key)
        if refusal is None or handler is None:
            return handler
        return rewrap(handler, lambda _behaviour, streaming: _refuse(*refusal, streaming))


def _refuse(code: grpc.StatusCode, message: str, streaming: bool) -> Callable:
    async def refuse(request, context: grpc.aio.ServicerContext):
        await context.abort(code, message)

    async def refuse_stream(request, context: grpc.aio.ServicerContext):
        await context.abort(code, message)
        yield  # unreachable: makes this an async generator like the handler it replaces

    return refuse_stream if streaming else refuse
