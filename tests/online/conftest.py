"""Real servers on a tiny model: a whole training job (train, gate, export, re-embed, swap) takes seconds.

The tiny encoder (`tiny_model_dir`, tests/conftest.py) is built and exported once per
session. Its servers run training with one torch thread: the test process and the server
share two cores, and two threads then wait on each other at every operator.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from embedtune_server.launcher import ServerPool, ServerProcess


def tiny_pool(model_dir: Path, new_home: Callable[[], Path]) -> ServerPool:
    return ServerPool(model_dir, new_home, "--train-threads", "1")


@pytest.fixture
def launch_tiny(tiny_model_dir: Path, tmp_path: Path) -> Iterator[Callable[..., ServerProcess]]:
    """Start servers on the tiny model (home: tmp_path/home unless given); killed at the test's end."""
    pool = tiny_pool(tiny_model_dir, lambda: tmp_path / "home")
    yield pool.start
    pool.close()


@pytest.fixture(scope="module")
def module_tiny_server(tiny_model_dir: Path, tmp_path_factory) -> Iterator[ServerProcess]:
    """One tiny server for a module's tests that need no fresh process, only an idle one."""
    pool = tiny_pool(tiny_model_dir, lambda: tmp_path_factory.mktemp("home"))
    yield pool.start()
    pool.close()
