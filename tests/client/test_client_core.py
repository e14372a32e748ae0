"""The transport-free core: chunking, retry decisions, settings, plans."""

from __future__ import annotations

import random

import grpc
import pytest

from embedtune_client import Client, NotFoundError, RetryPolicy
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


def test_which_rpcs_are_not_retried_use_the_admin_key_and_stream():
    rpcs = [v for v in vars(calls).values() if isinstance(v, calls.Rpc)]
    state_changes = {"StartTraining", "CancelJob", "ActivateModel", "AddModel"}
    assert {r.name for r in rpcs if not r.idempotent} == {"Delete", "SubmitFeedback", *state_changes}
    jobs = {"GetJob", "ListJobs", "WatchJob", "ListModels", *state_changes}
    assert {r.name for r in rpcs if r.admin} == {"Upsert", "Delete", "SubmitFeedback", *jobs}
    assert {r.name for r in rpcs if r.streaming} == {"WatchJob"}


def test_backoff_has_no_attempt_limit_and_stays_capped():
    policy = RetryPolicy(max_attempts=2, initial_backoff=0.1, max_backoff=1.0)
    rng = random.Random(0)
    assert policy.next_delay(True, grpc.StatusCode.UNAVAILABLE, 2, rng) is None
    # Hours of failures in a row: 2.0**5000 would overflow a float.
    assert all(0 <= policy.backoff(attempt, rng) <= 1.0 for attempt in (2, 50, 5000))


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


class _StreamHandle:
    """Stands in for an open gRPC stream in a hand-driven plan."""

    cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class _Broken(grpc.RpcError):
    def __init__(self, code: grpc.StatusCode) -> None:
        self._code = code

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return f"broken: {self._code.name}"


def _job(state: int) -> pb.Job:
    return pb.Job(id=7, kind=pb.JOB_KIND_TRAIN, state=state)


def test_the_watch_plan_reads_to_a_terminal_state_and_resubscribes_after_a_break():
    """Drive wait()'s plan by hand: open, read, break, back off, open again, read to the end."""
    seen = []
    plan = Operations(RetryPolicy(initial_backoff=0.5, max_backoff=0.5)).wait(7, None, seen.append)
    first = next(plan)
    assert isinstance(first, calls.Stream) and first.call.rpc is calls.WATCH_JOB
    assert first.call.request.id == 7 and first.timeout is None and first.delay == 0
    stream = _StreamHandle()
    assert isinstance(plan.send(stream), calls.Read)
    plan.send(_job(pb.JOB_STATE_TRAINING))
    again = plan.send(_Broken(grpc.StatusCode.UNAVAILABLE))
    assert stream.cancelled
    assert isinstance(again, calls.Stream) and 0 <= again.delay <= 0.5
    plan.send(_StreamHandle())
    with pytest.raises(StopIteration) as done:
        plan.send(_job(pb.JOB_STATE_REJECTED))
    assert done.value.value.state == "rejected"
    assert [job.state for job in seen] == ["training", "rejected"]


def test_the_watch_plan_bounds_the_stream_by_its_own_timeout_and_names_the_job_when_it_passes():
    plan = Operations().wait(7, 60.0, None)
    step = next(plan)
    assert 59 < step.timeout <= 60  # not the client's per-call timeout
    plan.send(_StreamHandle())
    plan.send(_job(pb.JOB_STATE_QUEUED))
    with pytest.raises(TimeoutError, match=r"job 7 .*60 s.*queued"):
        plan.send(_Broken(grpc.StatusCode.DEADLINE_EXCEEDED))


def test_the_watch_plan_raises_the_typed_error_for_codes_it_does_not_retry():
    plan = Operations().wait(7, None, None)
    next(plan)
    plan.send(_StreamHandle())
    with pytest.raises(NotFoundError, match="WatchJob"):
        plan.send(_Broken(grpc.StatusCode.NOT_FOUND))


def test_a_search_sends_include_fields_only_when_they_leave_something_out():
    """Unset means true on the server, so a default search is the request older servers know."""
    (call,) = next(Operations().search("q", 3, None, None, True, True))
    assert not call.request.HasField("include_text") and not call.request.HasField("include_metadata")
    (call,) = next(Operations().search("q", 3, None, None, False, True))
    assert call.request.HasField("include_text") and not call.request.include_text
    assert not call.request.HasField("include_metadata")
    (step,) = [next(Operations().search_batch(["a"], 3, None, None, True, False))]
    assert [c.request.queries[0].include_metadata for c in step] == [False]
