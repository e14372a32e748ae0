"""Run `embedtune serve` as a child process and wait until it listens.

For the tests, the benchmarks and tools that need a real server on loopback: the
child prints `embedtune listening on HOST:PORT` once it serves, so `--port 0` works.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import grpc

from embedtune_client.v1 import embedtune_pb2_grpc as pb_grpc

READY_LINE = "embedtune listening on "
# Printed before READY_LINE when the server has an HTTP edge (--http-port).
HTTP_READY_LINE = "embedtune http listening on "


@dataclass
class ServerProcess:
    process: subprocess.Popen
    host: str
    port: int
    home: Path
    log: Path
    http_port: int | None = None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def http_url(self) -> str:
        """The HTTP edge's base URL (plain HTTP), for a server started with --http-port."""
        if self.http_port is None:
            raise ValueError("this server has no HTTP edge: start it with --http-port")
        return f"http://{self.host}:{self.http_port}"

    def channel(self) -> grpc.Channel:
        return grpc.insecure_channel(self.address)

    def stubs(self, channel: grpc.Channel | None = None):
        channel = channel or self.channel()
        return (
            pb_grpc.EmbedServiceStub(channel),
            pb_grpc.IndexServiceStub(channel),
            pb_grpc.FeedbackServiceStub(channel),
        )

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM and wait: a graceful shutdown."""
        if self.alive():
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as in a crash."""
        self.process.kill()
        self.process.wait(30)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


def _address_after(text: str, line: str) -> tuple[str, int]:
    host, _, port = text.split(line, 1)[1].split()[0].rpartition(":")
    return host, int(port)


def free_port() -> int:
    """A loopback port free now, for a listener that cannot take port 0 (the metrics endpoint)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(
    model_dir: Path,
    home: Path,
    *flags: str,
    env: dict[str, str] | None = None,
    timeout: float = 90,
) -> ServerProcess:
    """Run `python -m embedtune_server serve` on a free port; return once it listens."""
    home.mkdir(parents=True, exist_ok=True)
    log = home.parent / f"{home.name}-server-{time.monotonic_ns()}.log"
    command = [
        sys.executable, "-m", "embedtune_server", "serve",
        "--home", str(home), "--model", str(model_dir), "--port", "0", *flags,
    ]  # fmt: skip
    with open(log, "wb") as out:
        process = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace")
        if READY_LINE in text:
            host, port = _address_after(text, READY_LINE)
            http_port = _address_after(text, HTTP_READY_LINE)[1] if HTTP_READY_LINE in text else None
            return ServerProcess(process, host, port, home, log, http_port)
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}:\n{text}")
        time.sleep(0.1)
    process.kill()
    raise TimeoutError(f"server did not start in {timeout}s:\n{log.read_text(errors='replace')}")


class ServerPool:
    """The servers one scope starts (a test module, a benchmark); `close` kills those still running."""

    def __init__(self, model_dir: Path, new_home: Callable[[], Path], *flags: str) -> None:
        self._model_dir = model_dir
        self._new_home = new_home
        self._flags = flags
        self._started: list[ServerProcess] = []

    def start(
        self, *flags: str, home: Path | None = None, env: dict[str, str] | None = None
    ) -> ServerProcess:
        """A server on `home` (default: a new one) with the pool's flags, then `flags`."""
        server = start_server(self._model_dir, home or self._new_home(), *self._flags, *flags, env=env)
        self._started.append(server)
        return server

    def close(self) -> None:
        for server in self._started:
            if server.alive():
                server.kill()
