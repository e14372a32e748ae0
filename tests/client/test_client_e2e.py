"""One smoke run of the client against the real server process (`embedtune serve`)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time

import numpy as np
import pytest

from embedtune_client import (
    AsyncClient,
    Client,
    DocumentRef,
    NotFoundError,
    PermissionDeniedError,
    UnauthenticatedError,
    UnavailableError,
)

launcher = pytest.importorskip("embedtune_server.launcher", reason="the server is not installed")
pytestmark = pytest.mark.slow

API_KEY, ADMIN_KEY = "e2e-api-key", "e2e-admin-key"
CHUNK = 4
STARTUP_S = 300  # a bare home exports the bundled model to ONNX first


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`embedtune serve` on a fresh home, with keys and a small client batch limit."""
    home = tmp_path_factory.mktemp("home")
    target = f"127.0.0.1:{launcher.free_port()}"
    log = (home / "server.log").open("w")
    command = [sys.executable, "-m", "embedtune_client.cli", "serve", "--home", str(home)]
    command += ["--port", target.rsplit(":", 1)[1], "--max-client-batch-size", str(CHUNK)]
    command += ["--api-key", API_KEY, "--admin-key", ADMIN_KEY]
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_until_serving(process, target, home / "server.log")
        yield target
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def _wait_until_serving(process: subprocess.Popen, target: str, log_path) -> None:
    deadline = time.monotonic() + STARTUP_S
    with Client(target, api_key=API_KEY, timeout=5) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(f"server exited with {process.returncode}:\n{log_path.read_text()[-3000:]}")
            try:
                if client.health() == "SERVING":
                    return
            except UnavailableError:
                pass
            time.sleep(0.5)
    pytest.fail(f"server not serving after {STARTUP_S} s:\n{log_path.read_text()[-3000:]}")


def test_round_trip(server):
    texts = [f"sentence number {i} about topic {i % 3}" for i in range(10)]
    with Client(server, api_key=API_KEY, admin_key=ADMIN_KEY) as client:
        info = client.info()
        assert info.limits.max_client_batch_size == CHUNK and info.auth_required
        vectors = client.embed(texts)
        assert vectors.shape == (len(texts), info.dimension)
        one_by_one = np.concatenate([client.embed([t]) for t in texts])
        np.testing.assert_allclose(vectors, one_by_one, atol=1e-5)

        ids = ["paris", "rome", "banana"]
        docs = ["Paris is the capital of France", "Rome is the capital of Italy", "Bananas are yellow"]
        written = client.upsert(ids, docs, [{"kind": "city"}, {"kind": "city"}, {"kind": "fruit"}])
        assert written.upserted == 3 and written.model_version == info.model_version
        assert client.count() == 3
        hits = client.search("What is the capital of France?", k=2)
        assert hits[0].id == "paris" and hits.model_version == info.model_version
        assert [h.id for h in client.search("capital", k=3, filter={"kind": "fruit"})] == ["banana"]
        assert [d.text for d in client.get(["rome"])] == [docs[1]]
        batch = client.search_batch(["French capital", "yellow fruit"], k=1)
        assert [r[0].id for r in batch] == ["paris", "banana"]

        feedback_id = client.feedback_triplet("French capital", DocumentRef("paris"), DocumentRef("rome"))
        assert isinstance(feedback_id, int)
        with pytest.raises(NotFoundError):
            client.get(["nope"])
        assert client.delete(["banana"]) == 1

    async def embed_async():
        async with AsyncClient(server, api_key=API_KEY) as client:
            return await client.embed(texts)

    np.testing.assert_allclose(asyncio.run(embed_async()), vectors, atol=1e-6)


def test_keys_are_enforced(server):
    with Client(server) as anonymous, pytest.raises(UnauthenticatedError):
        anonymous.count()
    with Client(server, api_key=API_KEY) as reader, pytest.raises(PermissionDeniedError):
        reader.upsert(["x"], ["some text"])
