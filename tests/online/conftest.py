"""Real servers on a tiny model: a whole training job (train, gate, export, re-embed, swap) takes seconds.

The tiny encoder is built and exported once per session. Its servers run training
with one torch thread: the test process and the server share two cores, and two
threads then wait on each other at every operator.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from tiny_models import build_tiny_encoder

from embedtune_server.launcher import ServerProcess, start_server


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    from embedtune_trainer.export import export_model_folder

    folder = tmp_path_factory.mktemp("tiny-models") / "tiny"
    build_tiny_encoder(dropout=0.0).save(folder)
    export_model_folder(folder, quantize=True)
    return folder


@pytest.fixture
def launch_tiny(tiny_model_dir: Path, tmp_path: Path) -> Iterator[Callable[..., ServerProcess]]:
    """Start servers on the tiny model (home: tmp_path/home unless given); killed at the test's end."""
    started: list[ServerProcess] = []

    def _launch(*flags: str, home: Path | None = None, env: dict[str, str] | None = None) -> ServerProcess:
        server = start_server(
            tiny_model_dir, home or tmp_path / "home", "--train-threads", "1", *flags, env=env
        )
        started.append(server)
        return server

    yield _launch
    for server in started:
        if server.alive():
            server.kill()
