"""SIGTERM on a real server: health turns NOT_SERVING while in-flight RPCs still run, new RPCs
are refused, an in-flight RPC finishes within `--shutdown-grace-s`, one still running after it
is cancelled (UNAVAILABLE), and the process exits 0 either way.

The in-flight RPC is an Embed held before inference by a failpoint; the test releases it
(by creating the failpoint's release file) when it has seen what it checks.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from embedtune_client.v1 import embedtune_pb2 as pb
from embedtune_server.failpoints import BEFORE_INFERENCE, ENV, RELEASE_ENV
from embedtune_server.launcher import ServerProcess

EVENTUALLY_S = 60  # how long a server may take to reach a state a test waits for
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


def eventually(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + EVENTUALLY_S
    while not condition():
        assert time.monotonic() < deadline, f"not within {EVENTUALLY_S}s: {what}"
        time.sleep(0.05)


def held_server(launch, release: Path, grace_s: float) -> ServerProcess:
    """A server whose one inference stream holds every batch until `release` exists."""
    return launch(
        "--inference-streams", "1", "--shutdown-grace-s", str(grace_s),
        env={ENV: BEFORE_INFERENCE, RELEASE_ENV: str(release)},
    )  # fmt: skip


def hold_an_embed(server: ServerProcess, channel: grpc.Channel) -> grpc.Future:
    """An Embed admitted and held before inference."""
    embed = server.stubs(channel)[0]
    future = embed.Embed.future(pb.EmbedRequest(inputs=["held in flight"]), timeout=EVENTUALLY_S)
    eventually(lambda: f"failpoint {BEFORE_INFERENCE} reached" in server.log_text(), "the Embed is held")
    return future


def refused(server: ServerProcess) -> bool:
    """Whether a new RPC (Info, which needs no inference) on a new channel is refused.

    grpc refuses a new call to a stopping server with UNAVAILABLE, or with CANCELLED when the
    call and the stop race (seen on a loaded machine); both are refusals.
    """
    with server.channel() as channel:
        try:
            server.stubs(channel)[0].Info(pb.InfoRequest(), timeout=5)
        except grpc.RpcError as error:
            assert error.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED), error
            return True
    return False


def test_sigterm_turns_health_not_serving_refuses_new_rpcs_and_lets_in_flight_ones_finish(launch, tmp_path):
    release = tmp_path / "release"
    server = held_server(launch, release, grace_s=EVENTUALLY_S)
    with server.channel() as channel:
        watch = health_pb2_grpc.HealthStub(channel).Watch(
            health_pb2.HealthCheckRequest(), timeout=EVENTUALLY_S
        )
        assert next(watch).status == SERVING
        held = hold_an_embed(server, channel)
        server.process.send_signal(signal.SIGTERM)
        assert next(watch).status == NOT_SERVING
        assert not held.done()  # health said NOT_SERVING while the RPC was still in flight
        watch.cancel()  # an open Watch is an in-flight RPC too: it would hold the grace period
        eventually(lambda: refused(server), "a new RPC is refused")
        assert not held.done() and server.alive()
        release.touch()
        embedding = held.result().embeddings
    assert len(embedding) == 1 and len(embedding[0].values) == 384
    assert server.process.wait(EVENTUALLY_S) == 0
    assert "Traceback" not in server.log_text()


def test_an_rpc_still_running_after_the_grace_period_is_cancelled_and_the_process_exits_0(launch, tmp_path):
    server = held_server(launch, tmp_path / "never-released", grace_s=0.5)
    with server.channel() as channel:
        held = hold_an_embed(server, channel)
        server.process.send_signal(signal.SIGTERM)
        with pytest.raises(grpc.RpcError) as raised:
            held.result()
    # gRPC ends the calls a stopping server cancels with UNAVAILABLE: a client may retry elsewhere
    assert raised.value.code() == grpc.StatusCode.UNAVAILABLE, raised.value
    assert raised.value.details() == "Cancelling all calls"
    assert server.process.wait(EVENTUALLY_S) == 0
    assert "Traceback" not in server.log_text()
