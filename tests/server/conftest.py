"""Fixtures for the server tests: real server processes on loopback, stopped at teardown."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from embedtune_server.launcher import ServerProcess, start_server


@pytest.fixture(scope="module")
def launch(onnx_model_dir: Path, tmp_path_factory) -> Iterator[Callable[..., ServerProcess]]:
    """Start servers on the session's exported model; each is killed at the module's end."""
    started: list[ServerProcess] = []

    def _launch(*flags: str, home: Path | None = None, env: dict[str, str] | None = None) -> ServerProcess:
        server = start_server(onnx_model_dir, home or tmp_path_factory.mktemp("home"), *flags, env=env)
        started.append(server)
        return server

    yield _launch
    for server in started:
        if server.alive():
            server.kill()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
