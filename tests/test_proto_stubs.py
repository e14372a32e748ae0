"""The committed stubs are exactly what proto/generate.py makes from the .proto files."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def test_committed_stubs_match_the_proto(tmp_path):
    pytest.importorskip("grpc_tools", reason="grpcio-tools (a test extra) generates the stubs")
    spec = importlib.util.spec_from_file_location("generate", REPO / "proto" / "generate.py")
    generate = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generate)
    fresh = generate.generate(tmp_path / "v1")
    committed = REPO / "client" / "embedtune_client" / "v1"
    assert sorted(p.name for p in fresh) == sorted(p.name for p in committed.iterdir() if p.is_file())
    for path in fresh:
        assert path.read_text() == (committed / path.name).read_text(), (
            f"{path.name} is stale: run `make proto`"
        )
