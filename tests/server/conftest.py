"""Fixtures for the server tests: real server processes on loopback, stopped at teardown."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from tls_certificates import Certificates, issue

from embedtune_server.launcher import ServerPool, ServerProcess


@pytest.fixture(scope="module")
def launch(onnx_model_dir: Path, tmp_path_factory) -> Iterator[Callable[..., ServerProcess]]:
    """Start servers on the session's exported model; each is killed at the module's end."""
    pool = ServerPool(onnx_model_dir, lambda: tmp_path_factory.mktemp("home"))
    yield pool.start
    pool.close()


@pytest.fixture(scope="session")
def certificates(tmp_path_factory) -> Certificates:
    """A test CA and the server certificate it signs, for servers started with TLS."""
    return issue(tmp_path_factory.mktemp("tls"))
