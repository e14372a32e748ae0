"""The asyncio client against the in-test fake server: same plans, same results as the sync one."""

from __future__ import annotations

import asyncio
import inspect
import threading

import grpc
import numpy as np
import pytest
from client_fakes import FAST_RETRY, fake_vector

from embedtune_client import AsyncClient, Client, NotFoundError, UnavailableError

TEXTS = [f"async text {i}" for i in range(11)]


def run(coroutine):
    return asyncio.run(coroutine)


def async_client(fake, **kwargs) -> AsyncClient:
    return AsyncClient(fake.target, api_key="api-key", admin_key="admin-key", retry=FAST_RETRY, **kwargs)


def test_chunked_embed_matches_the_sync_client(fake):
    async def embed():
        async with async_client(fake) as client:
            return await client.embed(TEXTS)

    async_vectors = run(embed())
    async_requests = [list(r.inputs) for r in fake.state.requests["Embed"]]
    with Client(fake.target) as client:
        sync_vectors = client.embed(TEXTS)
    limit = fake.state.limits.max_client_batch_size
    assert len(async_requests) == -(-len(TEXTS) // limit)
    assert all(len(chunk) <= limit for chunk in async_requests)
    np.testing.assert_array_equal(async_vectors, sync_vectors)
    np.testing.assert_allclose(async_vectors, np.stack([fake_vector(t) for t in TEXTS]), rtol=1e-6)


def test_embed_pipelines_chunks(fake):
    fake.state.limits.max_client_batch_size = 2
    fake.state.embed_barrier = threading.Barrier(3, timeout=10)

    async def embed():
        async with async_client(fake, max_in_flight=3) as client:
            return await client.embed(TEXTS[:6])

    vectors = run(embed())
    np.testing.assert_allclose(vectors, np.stack([fake_vector(t) for t in TEXTS[:6]]), rtol=1e-6)


def test_retry_for_idempotent_calls_only(fake):
    fake.state.fail("Search", grpc.StatusCode.UNAVAILABLE, times=2)
    fake.state.fail("SubmitFeedback", grpc.StatusCode.UNAVAILABLE)

    async def calls():
        async with async_client(fake) as client:
            await client.search("x")
            with pytest.raises(UnavailableError):
                await client.feedback_triplet("a", "b", "c")

    run(calls())
    assert fake.state.calls("Search") == 3
    assert fake.state.calls("SubmitFeedback") == 1


def test_typed_error_and_auth(fake):
    async def calls():
        async with async_client(fake) as client:
            await client.upsert(["a"], ["x"], [{"lang": "en"}])
            with pytest.raises(NotFoundError) as caught:
                await client.get(["a", "missing"])
            return caught.value, await client.get(["a"]), await client.count()

    error, documents, count = run(calls())
    assert error.code is grpc.StatusCode.NOT_FOUND and "missing" in error.details
    assert documents[0].metadata == {"lang": "en"} and count == 1
    assert fake.state.metadata["Upsert"][0]["authorization"] == "Bearer admin-key"
    assert fake.state.metadata["Get"][0]["authorization"] == "Bearer api-key"


def test_context_manager_closes_the_channel(fake):
    async def calls():
        async with async_client(fake) as client:
            await client.health()
            channel = client._channel
        assert client.closed
        with pytest.raises(RuntimeError, match="closed"):
            await client.count()
        # The aio channel itself refuses calls once closed.
        with pytest.raises(grpc.aio.UsageError):
            await channel.unary_unary("/embedtune.v1.IndexService/Count")(b"")

    run(calls())


def test_every_method_has_the_same_signature_in_both_clients():
    public = [n for n, v in inspect.getmembers(Client, inspect.isfunction) if not n.startswith("_")]
    assert "embed" in public and "feedback_many" in public
    for name in public:
        sync, asynchronous = getattr(Client, name), getattr(AsyncClient, name)
        assert inspect.signature(sync) == inspect.signature(asynchronous), name
        assert inspect.iscoroutinefunction(asynchronous), name
