"""Two pure-ASGI layers around every HTTP request: the body limit and the request metrics.

Pure ASGI rather than Starlette's BaseHTTPMiddleware, which would copy each body
through a stream of its own.
"""

from __future__ import annotations

import time

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from embedtune_server.http.errors import error_response
from embedtune_server.metrics import ServerMetrics


def _too_large(limit: int) -> str:
    return f"request body: exceeds max_request_bytes={limit}"


class BodyLimit:
    """Refuses a body over `limit` bytes (413) before it is read whole.

    A Content-Length over the limit is refused without reading a byte of the body; a
    chunked body is counted as it arrives and refused at the chunk that passes the limit.
    """

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.limit:
            refusal = error_response(
                413, _too_large(self.limit), "invalid_request_error", "request_too_large"
            )
            refusal.headers["Connection"] = "close"
            await refusal(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    # FastAPI lets an HTTPException raised while it reads the body through
                    # to the error handler (errors.py), which answers it in the error shape.
                    raise HTTPException(413, _too_large(self.limit), headers={"Connection": "close"})
            return message

        await self.app(scope, counted, send)


class RequestMetrics:
    """Counts every HTTP request by route template and status, and times it (protocol "http")."""

    def __init__(self, app: ASGIApp, metrics: ServerMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, status = time.perf_counter(), 500

        async def watched(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, watched)
        finally:
            route = scope.get("route")
            # Templates, never raw paths: an unknown path must not grow a time series.
            label = f"{scope['method']} {route.path}" if route is not None else "unrouted"
            self.metrics.record_request("http", label, str(status), started)
