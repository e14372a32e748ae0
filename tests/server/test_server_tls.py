"""The clients' `tls=` option against a real TLS server whose certificate the test CA signed."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import numpy as np
import pytest
from tls_certificates import Certificates

from embedtune_client import AsyncClient, Client, RetryPolicy, ServerInfo, UnavailableError
from embedtune_client.core.connection import TlsSetting

# A refused handshake is UNAVAILABLE, which the client would otherwise retry with backoff.
ONE_ATTEMPT = RetryPolicy(max_attempts=1)

ROOT_FORMS: dict[str, Callable[[Certificates], TlsSetting]] = {
    "path": lambda certificates: certificates.ca,
    "str path": lambda certificates: str(certificates.ca),
    "bytes": lambda certificates: certificates.ca.read_bytes(),
}


def sync_client(address: str, tls: TlsSetting) -> tuple[ServerInfo, np.ndarray]:
    with Client(address, tls=tls, retry=ONE_ATTEMPT) as client:
        return client.info(), client.embed(["sent over TLS"])


def async_client(address: str, tls: TlsSetting) -> tuple[ServerInfo, np.ndarray]:
    async def calls() -> tuple[ServerInfo, np.ndarray]:
        async with AsyncClient(address, tls=tls, retry=ONE_ATTEMPT) as client:
            return await client.info(), await client.embed(["sent over TLS"])

    return asyncio.run(calls())


CLIENTS = {"Client": sync_client, "AsyncClient": async_client}


@pytest.fixture(scope="module")
def server(launch, certificates):
    return launch(*certificates.server_flags())


@pytest.mark.parametrize("client", CLIENTS)
@pytest.mark.parametrize("form", ROOT_FORMS)
def test_a_client_given_the_ca_talks_to_the_server(server, certificates, client, form):
    info, embeddings = CLIENTS[client](server.address, ROOT_FORMS[form](certificates))
    assert embeddings.shape == (1, info.dimension)
    assert np.isclose(np.linalg.norm(embeddings[0]), 1.0, atol=1e-4)


@pytest.mark.parametrize("client", CLIENTS)
def test_a_client_given_another_ca_is_refused_at_the_handshake(server, certificates, client):
    with pytest.raises(UnavailableError) as refused:
        CLIENTS[client](server.address, certificates.stranger)
    assert "handshake" in refused.value.details.lower()


@pytest.mark.parametrize("client", CLIENTS)
def test_a_plaintext_client_cannot_talk_to_the_tls_server(server, client):
    with pytest.raises(UnavailableError):
        CLIENTS[client](server.address, False)
