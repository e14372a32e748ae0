"""Routes that each call one RPC, and are guarded by that RPC's key.

A route names its RPC in its OpenAPI operation (`x-embedtune-rpc`), so the schema says
which key a route needs. The key is checked with `auth.check` before the body is read,
as the gRPC interceptor checks it before the request is parsed: an unauthenticated
caller is told so first, and the api/admin split is the proto's `admin_only` mark.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from functools import cached_property
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

from embedtune_server.auth import bearer_token, check
from embedtune_server.http.calls import Rpc
from embedtune_server.http.errors import RpcFailure

RPC_KEY = "x-embedtune-rpc"


def calls(rpc: Rpc) -> dict[str, Any]:
    """Route arguments that bind a route to `rpc`: `@router.post(path, **calls(EMBED))`."""
    return {"openapi_extra": {RPC_KEY: rpc.path}}


class RpcRoute(APIRoute):
    """An APIRoute that checks the caller's key for its RPC first; routes without an RPC are open."""

    @cached_property
    def rpc(self) -> Rpc | None:
        path = (self.openapi_extra or {}).get(RPC_KEY)
        return Rpc.from_path(path) if path else None

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        rpc = self.rpc
        if rpc is None:
            return handler

        async def guarded(request: Request) -> Response:
            settings = request.app.state.settings
            token = bearer_token(request.headers.get("authorization"))
            refusal = check(rpc.path, token, settings.api_key, settings.admin_key)
            if refusal is not None:
                raise RpcFailure(*refusal)
            return await handler(request)

        return guarded
