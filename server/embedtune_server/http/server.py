"""uvicorn on the gRPC server's event loop, started and stopped with it.

One loop serves both protocols: an HTTP request awaits the same batcher as an RPC,
with no thread or process hop. Signals stay with `app.serve`, which stops HTTP and
gRPC together; uvicorn's own signal capture is turned off.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator

import uvicorn
from fastapi import FastAPI

from embedtune_server.settings import ServerSettings


class _InLoopServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _bind(host: str, port: int) -> socket.socket:
    """A listening socket, bound here so port 0 works and a taken port names the flag."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP named, not left 0: asyncio sets TCP_NODELAY only on sockets that say so,
    # and without it Nagle holds a response's body behind its headers until the client's
    # delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ValueError(f"--http-port {port}: cannot listen on {host}:{port}: {exc.strerror}") from exc
    return sock


class HttpServer:
    def __init__(self, app: FastAPI, settings: ServerSettings) -> None:
        self._app = app
        self._socket = _bind(settings.host, settings.http_port or 0)
        self.port: int = self._socket.getsockname()[1]
        tls = {}
        if settings.tls_cert is not None:
            tls = {"ssl_certfile": str(settings.tls_cert), "ssl_keyfile": str(settings.tls_key)}
        config = uvicorn.Config(
            app,
            # httptools' C parser, not h11's pure-Python one: the loop also serves gRPC and
            # hands out every batch's results.
            http="httptools",
            lifespan="off",
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=settings.shutdown_grace_s,
            **tls,
        )
        self._server = _InLoopServer(config)
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._server.serve(sockets=[self._socket]))
        while not self._server.started:
            if self._task.done():
                self._task.result()  # startup failed: raise its error
                raise RuntimeError("the HTTP server stopped while starting")
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        """Stop accepting, let in-flight requests finish (within the grace period), close."""
        self._app.state.serving = False
        self._server.should_exit = True
        if self._task is not None:
            await self._task
