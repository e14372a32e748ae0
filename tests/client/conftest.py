from __future__ import annotations

import pytest
from client_fakes import FAST_RETRY, FakeServer

from embedtune_client import Client


@pytest.fixture
def fake() -> FakeServer:
    server = FakeServer().start()
    yield server
    server.stop()


@pytest.fixture
def client(fake: FakeServer) -> Client:
    with Client(fake.target, api_key="api-key", admin_key="admin-key", retry=FAST_RETRY) as client:
        yield client
