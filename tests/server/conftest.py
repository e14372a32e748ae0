"""Fixtures for the server tests: real server processes on loopback, stopped at teardown."""

from __future__ import annotations

import os
import shutil
import subprocess
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


@pytest.fixture
def small_disk(tmp_path) -> Iterator[Path]:
    """A 16 MiB tmpfs mounted at tmp_path/home, to fill; skips where mounting is not allowed."""
    mount = tmp_path / "home"
    mount.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("filling a disk needs a small tmpfs, and mounting one needs root and `mount`")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mount)], capture_output=True, text=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs to fill: {mounted.stderr.strip()}")
    yield mount
    subprocess.run(["umount", "--lazy", str(mount)], check=True)
