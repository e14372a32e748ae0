"""The transport-free core: chunking, retry decisions, settings, plans."""

from __future__ import annotations

import random

import grpc
import pytest

from embedtune_client import Client, RetryPolicy
from embedtune_client.core import calls, health
from embedtune_client.core.connection import ClientSettings
from embedtune_client.core.operations import Operations, chunks
from embedtune_client.v1 import embedtune_pb2 as pb


@pytest.mark.parametrize(("count", "size"), [(0, 3), (1, 3), (3, 3), (10, 3), (10, 0), (7, 1)])
def test_chunks_cover_items_in_order_within_size(count, size):
    items = list(range(count))
    parts = chunks(items, size)
    assert [x for part in parts for x in part] == items
    assert all(0 < len(part) <= (size or count) for part in parts)


def test_backoff_grows_to_its_cap_with_jitter_below_it():
    policy = RetryPolicy(max_attempts=10, initial_backoff=0.1, max_backoff=1.0, multiplier=2.0)
    rng = random.Random(0)
    for attempt in range(1, 10):
        cap = min(policy.max_backoff, policy.initial_backoff * policy.multiplier ** (attempt - 1))
        delays = [policy.next_delay(True, grpc.StatusCode.UNAVAILABLE, attempt, rng) for _ in range(50)]
        assert all(0 <= d <= cap for d in delays)
        assert len(set(delays)) > 1  # jittered, not a fixed schedule
    assert policy.next_delay(True, grpc.StatusCode.UNAVAILABLE, 10, rng) is None


@pytest.mark.parametrize(
    ("idempotent", "code"),
    [
        (False, grpc.StatusCode.UNAVAILABLE),
        (True, grpc.StatusCode.INVALID_ARGUMENT),
        (True, grpc.StatusCode.INTERNAL),
    ],
)
def test_no_retry_for_writes_that_are_not_idempotent_or_for_final_codes(idempotent, code):
    assert RetryPolicy().next_delay(idempotent, code, 1, random.Random(0)) is None


def test_only_delete_and_feedback_are_not_retried_and_only_admin_methods_use_the_admin_key():
    rpcs = [v for v in vars(calls).values() if isinstance(v, calls.Rpc)]
    assert {r.name for r in rpcs if not r.idempotent} == {"Delete", "SubmitFeedback"}
    assert {r.name for r in rpcs if r.admin} == {"Upsert", "Delete", "SubmitFeedback"}


@pytest.mark.parametrize(
    "kwargs",
    [{"max_attempts": 0}, {"initial_backoff": -1.0}, {"multiplier": 0.5}],
)
def test_bad_retry_policy_is_refused(kwargs):
    with pytest.raises(ValueError):
        RetryPolicy(**kwargs)


@pytest.mark.parametrize("kwargs", [{"target": ""}, {"timeout": 0}, {"max_in_flight": 0}])
def test_bad_settings_are_refused(kwargs):
    with pytest.raises(ValueError):
        ClientSettings(**kwargs)


def test_tls_root_certificate_path_must_be_readable(tmp_path):
    with pytest.raises(ValueError, match=r"missing\.pem"):
        Client("localhost:1", tls=tmp_path / "missing.pem")


def test_tls_accepts_root_certificate_bytes_and_paths(tmp_path):
    # grpc parses the certificate lazily, at connection time: building credentials must not fail.
    pem = tmp_path / "ca.pem"
    pem.write_bytes(b"-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n")
    for tls in (True, pem.read_bytes(), pem, str(pem)):
        assert isinstance(ClientSettings(tls=tls).credentials(), grpc.ChannelCredentials)
    assert ClientSettings(tls=False).credentials() is None


def test_health_messages_match_the_grpc_health_wire_format():
    from grpc_health.v1 import health_pb2

    request = health.HealthCheckRequest(service="embedtune.v1.EmbedService").SerializeToString()
    assert health_pb2.HealthCheckRequest.FromString(request).service == "embedtune.v1.EmbedService"
    for status in (health_pb2.HealthCheckResponse.SERVING, health_pb2.HealthCheckResponse.NOT_SERVING):
        wire = health_pb2.HealthCheckResponse(status=status).SerializeToString()
        name = health.status_name(health.HealthCheckResponse.FromString(wire).status)
        assert name == health_pb2.HealthCheckResponse.ServingStatus.Name(status)


def test_a_plan_asks_for_info_once_then_sends_all_chunks_in_one_step():
    """Drive the embed plan by hand, as a transport would."""
    operations = Operations()
    plan = operations.embed([f"t{i}" for i in range(5)])
    (info_call,) = next(plan)
    assert info_call.rpc is calls.INFO
    info = pb.InfoResponse(dimension=2, limits=pb.Limits(max_client_batch_size=2))
    step = plan.send([info])
    assert [list(c.request.inputs) for c in step] == [["t0", "t1"], ["t2", "t3"], ["t4"]]
    rows = iter(range(5))
    responses = [
        pb.EmbedResponse(
            embeddings=[pb.Embedding(values=[next(rows), 0]) for _ in c.request.inputs], model_version="v"
        )
        for c in step
    ]
    with pytest.raises(StopIteration) as done:
        plan.send(responses)
    assert done.value.value.embeddings[:, 0].tolist() == [0, 1, 2, 3, 4]
    # The limits are cached: a second plan goes straight to Embed.
    assert next(operations.embed(["x"]))[0].rpc is calls.EMBED
