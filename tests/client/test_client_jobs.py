"""Training jobs and model versions, sync and asyncio, against the in-test fake server."""

from __future__ import annotations

import asyncio
import time

import grpc
import pytest
from client_fakes import FAST_RETRY, SECONDS, training_script

from embedtune_client import (
    AsyncClient,
    Client,
    FailedPreconditionError,
    Gate,
    Job,
    NotFoundError,
    RetryPolicy,
    UnavailableError,
)
from embedtune_client.contract import JOB_STATES
from embedtune_client.v1 import embedtune_pb2 as pb

JOB_RPCS = ("StartTraining", "GetJob", "ListJobs", "WatchJob", "CancelJob")
MODEL_RPCS = ("ListModels", "ActivateModel", "AddModel")
TRAINING_STATES = ["queued", "training", "evaluating", "exporting", "reindexing", "activated"]


def async_client(fake, **kwargs) -> AsyncClient:
    return AsyncClient(fake.target, api_key="api-key", admin_key="admin-key", retry=FAST_RETRY, **kwargs)


def sent_nothing(fake) -> bool:
    return not any(fake.state.requests.values())


# ------------------------------------------------------------------ train


def test_train_sends_only_the_options_given_and_returns_the_queued_job(client, fake):
    job = client.train(
        losses={"triplet": "TripletLoss", "pair": "MultipleNegativesRankingLoss"},
        epochs=2,
        learning_rate=3e-5,
        held_out_fraction=0.2,
        gate_margin=-0.5,
        base_version="v2",
        seed=0,
        max_seq_length=64,
    )
    (request,) = fake.state.requests["StartTraining"]
    options = request.options
    assert dict(options.losses) == {"triplet": "TripletLoss", "pair": "MultipleNegativesRankingLoss"}
    assert options.HasField("seed") and options.seed == 0  # 0 is sent, not mistaken for unset
    assert not options.HasField("batch_size") and not options.HasField("min_feedback")
    assert options.base_version == "v2" and options.max_seq_length == 64
    assert (job.id, job.kind, job.state, job.done, job.succeeded) == (1, "train", "queued", False, False)
    assert job.gate is None and job.finished_at is None
    # What the server recorded: its default batch size, and our values read back as written.
    assert job.options.batch_size == 16 and job.options.min_feedback is None
    assert (job.options.epochs, job.options.learning_rate, job.options.held_out_fraction) == (2.0, 3e-5, 0.2)
    assert job.feedback_counts == {"triplet": 40}


def test_train_without_options_leaves_every_option_to_the_server(client, fake):
    client.train()
    assert fake.state.requests["StartTraining"][0].options == pb.TrainingOptions()


@pytest.mark.parametrize(
    ("kwargs", "error", "name"),
    [
        ({"losses": {"quadruplet": "TripletLoss"}}, ValueError, "losses"),
        ({"losses": {"triplet": ""}}, ValueError, "losses"),
        ({"losses": {"triplet": 3}}, TypeError, "losses"),
        ({"losses": "TripletLoss"}, TypeError, "losses"),
        ({"epochs": 0}, ValueError, "epochs"),
        ({"epochs": float("nan")}, ValueError, "epochs"),
        ({"epochs": float("inf")}, ValueError, "epochs"),
        ({"epochs": "1"}, TypeError, "epochs"),
        ({"batch_size": 0}, ValueError, "batch_size"),
        ({"batch_size": 8.0}, TypeError, "batch_size"),
        ({"batch_size": True}, TypeError, "batch_size"),
        ({"learning_rate": 0.0}, ValueError, "learning_rate"),
        ({"learning_rate": -1e-5}, ValueError, "learning_rate"),
        ({"min_feedback": 0}, ValueError, "min_feedback"),
        ({"held_out_fraction": 0}, ValueError, "held_out_fraction"),
        ({"held_out_fraction": 1.0}, ValueError, "held_out_fraction"),
        ({"gate_margin": float("nan")}, ValueError, "gate_margin"),
        ({"gate_margin": 1e39}, ValueError, "gate_margin"),
        ({"base_version": ""}, ValueError, "base_version"),
        ({"base_version": 2}, TypeError, "base_version"),
        ({"seed": -1}, ValueError, "seed"),
        ({"seed": True}, TypeError, "seed"),
        ({"seed": 2**32}, ValueError, "seed"),
        ({"max_seq_length": 0}, ValueError, "max_seq_length"),
    ],
)
def test_bad_training_options_name_the_argument_and_send_nothing(client, fake, kwargs, error, name):
    with pytest.raises(error, match=name):
        client.train(**kwargs)
    assert sent_nothing(fake)


@pytest.mark.parametrize(
    ("call", "error", "name"),
    [
        (lambda c: c.job(0), ValueError, "job_id"),
        (lambda c: c.job("1"), TypeError, "job_id"),
        (lambda c: c.job(True), TypeError, "job_id"),
        (lambda c: c.jobs(limit=0), ValueError, "limit"),
        (lambda c: c.cancel(None), TypeError, "job"),
        (lambda c: c.activate(""), ValueError, "version"),
        (lambda c: c.add_model(None), TypeError, "source"),
        (lambda c: c.wait(1, timeout=0), ValueError, "timeout"),
        (lambda c: c.wait(1, timeout=float("inf")), ValueError, "timeout"),
        (lambda c: c.wait(1, progress="bar"), TypeError, "progress"),
    ],
)
def test_bad_job_and_model_arguments_name_the_argument_and_send_nothing(client, fake, call, error, name):
    with pytest.raises(error, match=name):
        call(client)
    assert sent_nothing(fake)


# ----------------------------------------------------------- jobs, models


def test_job_jobs_and_cancel(client, fake):
    first, second = client.train(), client.train()
    assert client.job(first.id) == first
    assert client.job(first) == first  # a Job refreshes itself
    assert [job.id for job in client.jobs()] == [second.id, first.id]  # newest first
    assert [job.id for job in client.jobs(limit=1)] == [second.id]
    assert fake.state.requests["ListJobs"][0].limit == 50
    cancelled = client.cancel(second)
    assert (cancelled.state, cancelled.done, cancelled.succeeded) == ("cancelled", True, False)
    assert cancelled.reason == "cancelled by request"
    assert client.cancel(second.id) == cancelled  # a finished job comes back as it is
    assert fake.state.requests["CancelJob"][0].id == second.id


def test_models_activate_and_add_model(client, fake):
    models = client.models()
    assert [(m.version, m.parent, m.active, m.status) for m in models] == [
        ("v1", "", True, "ready"),
        ("v2", "v1", False, "ready"),
    ]
    assert models[1].losses == {"triplet": "TripletLoss"} and models[1].metrics == {"cosine_accuracy": 0.875}
    activation = client.activate("v2")
    assert (activation.kind, activation.state, activation.version) == ("activate", "queued", "v2")
    assert activation.options is None
    added = client.add_model("sentence-transformers/all-MiniLM-L6-v2")
    assert (added.kind, added.state) == ("add_model", "queued")
    assert fake.state.requests["AddModel"][0].source == "sentence-transformers/all-MiniLM-L6-v2"
    with pytest.raises(NotFoundError, match="v9"):
        client.activate("v9")


def test_every_job_and_model_rpc_carries_the_admin_key(client, fake):
    job = client.train()
    client.wait(client.job(job.id))
    client.jobs()
    client.cancel(job)
    client.models()
    client.wait(client.activate("v1"))
    client.add_model("models/local")
    for method in JOB_RPCS + MODEL_RPCS:
        assert fake.state.metadata[method], method
        assert {m["authorization"] for m in fake.state.metadata[method]} == {"Bearer admin-key"}, method


@pytest.mark.parametrize("code", [grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED])
@pytest.mark.parametrize(
    ("method", "call"),
    [
        ("GetJob", lambda c: c.job(1)),
        ("ListJobs", lambda c: c.jobs()),
        ("ListModels", lambda c: c.models()),
    ],
)
def test_reading_jobs_and_models_is_retried(client, fake, method, call, code):
    client.train()
    fake.state.fail(method, code, times=2)
    call(client)
    assert fake.state.calls(method) == 3


@pytest.mark.parametrize(
    ("method", "call"),
    [
        ("StartTraining", lambda c: c.train()),
        ("CancelJob", lambda c: c.cancel(1)),
        ("ActivateModel", lambda c: c.activate("v2")),
        ("AddModel", lambda c: c.add_model("models/local")),
    ],
)
def test_calls_that_start_or_stop_jobs_are_not_retried(client, fake, method, call):
    fake.state.start_job(pb.JOB_KIND_TRAIN)
    fake.state.fail(method, grpc.StatusCode.UNAVAILABLE)
    with pytest.raises(UnavailableError):
        call(client)
    assert fake.state.calls(method) == 1


def test_a_refused_start_is_typed(client, fake):
    fake.state.fail("StartTraining", grpc.StatusCode.FAILED_PRECONDITION)
    with pytest.raises(FailedPreconditionError, match="StartTraining"):
        client.train()


def test_job_states_and_kinds_are_the_proto_enum_names():
    assert [JOB_STATES[v] for v in sorted(JOB_STATES)] == [
        "unspecified",
        *TRAINING_STATES[:-1],
        "activated",
        "rejected",
        "failed",
        "cancelled",
    ]
    fields = {name: None for name in Job.__dataclass_fields__}
    for state in JOB_STATES.values():
        job = Job(**{**fields, "state": state})
        assert job.done == (state in {"activated", "rejected", "failed", "cancelled"})
        assert job.succeeded == (state == "activated")


# ------------------------------------------------------------------- wait


def test_wait_follows_every_state_calls_progress_and_returns_the_activated_job(client, fake):
    seen = []
    job = client.wait(client.train(), progress=seen.append)
    assert [(j.state, j.progress.done, j.progress.total) for j in seen] == [
        ("queued", 0, 0),
        ("training", 0, 4),
        ("training", 2, 4),
        ("training", 4, 4),
        ("evaluating", 0, 0),
        ("exporting", 0, 0),
        ("reindexing", 0, 3),
        ("reindexing", 3, 3),
        ("activated", 0, 0),
    ]
    assert seen[-1] == job and job.done and job.succeeded
    assert job.gate == Gate("cosine_accuracy", 0.8, 0.875, 0.01, True)
    assert job.state_seconds == SECONDS and job.finished_at is not None
    assert job.metrics_new == {"cosine_accuracy": 0.875}
    assert fake.state.calls("WatchJob") == 1


def test_wait_returns_a_rejected_job_rather_than_raising(client, fake):
    fake.state.job_scripts[pb.JOB_KIND_TRAIN] = training_script(passes=False)
    job = client.wait(client.train().id)
    assert (job.state, job.done, job.succeeded) == ("rejected", True, False)
    assert job.gate.passed is False and "0.795" in job.reason


def test_wait_subscribes_again_when_the_stream_breaks(client, fake):
    fake.state.break_watch(after=3)
    seen = []
    job = client.wait(client.train(), progress=seen.append)
    assert job.state == "activated" and fake.state.calls("WatchJob") == 2
    # The new stream starts with the job as it is then: no state is lost or goes back.
    order = [TRAINING_STATES.index(j.state) for j in seen]
    assert order == sorted(order) and set(order) == set(range(len(TRAINING_STATES)))


def test_wait_keeps_subscribing_past_max_attempts_while_its_timeout_allows(client, fake):
    fake.state.fail("WatchJob", grpc.StatusCode.UNAVAILABLE, times=3 * FAST_RETRY.max_attempts)
    job = client.wait(client.train(), timeout=30)
    assert job.succeeded and fake.state.calls("WatchJob") == 3 * FAST_RETRY.max_attempts + 1


def test_wait_raises_timeout_error_naming_the_job_and_its_last_state(client, fake):
    fake.state.job_scripts[pb.JOB_KIND_TRAIN] = training_script()[:2]  # stalls in training
    job = client.train()
    start = time.monotonic()
    with pytest.raises(TimeoutError, match=rf"job {job.id} .*0\.3 s.*training"):
        client.wait(job, timeout=0.3)
    assert 0.25 < time.monotonic() - start < 5


def test_wait_is_not_cut_by_the_clients_per_call_timeout(fake):
    fake.state.watch_interval = 0.05  # 8 intervals: 0.4 s in all, each call may take 0.15 s
    with Client(fake.target, timeout=0.15, retry=RetryPolicy(max_attempts=1)) as client:
        assert client.wait(client.train()).succeeded
    assert fake.state.calls("WatchJob") == 1


def test_wait_raises_the_typed_error_for_an_unknown_job(client, fake):
    with pytest.raises(NotFoundError, match="no job 42"):
        client.wait(42)
    assert fake.state.calls("WatchJob") == 1


def test_wait_on_a_finished_job_returns_it(client, fake):
    job = client.cancel(client.train())
    seen = []
    assert client.wait(job, progress=seen.append) == job and seen == [job]


# ---------------------------------------------------------------- asyncio


def test_async_jobs_and_models_match_the_sync_client(fake):
    async def calls():
        async with async_client(fake) as client:
            seen = []
            started = await client.train(epochs=1.5, losses={"labeled_pair": "CoSENTLoss"})
            final = await client.wait(started, progress=seen.append)
            listed = await client.jobs()
            refreshed = await client.job(started.id)
            activation = await client.wait(await client.activate("v2"))
            added = await client.add_model("models/local")
            cancelled = await client.cancel(added)
            return started, final, seen, listed, refreshed, activation, cancelled, await client.models()

    started, final, seen, listed, refreshed, activation, cancelled, models = asyncio.run(calls())
    assert started.state == "queued" and started.options.epochs == 1.5
    assert final.succeeded and list(dict.fromkeys(j.state for j in seen)) == TRAINING_STATES
    assert refreshed == final and [j.id for j in listed] == [started.id]
    assert (activation.kind, activation.state) == ("activate", "activated")
    assert (cancelled.kind, cancelled.state) == ("add_model", "cancelled")
    assert [m.version for m in models] == ["v1", "v2"]
    for method in JOB_RPCS + MODEL_RPCS:
        assert {m["authorization"] for m in fake.state.metadata[method]} == {"Bearer admin-key"}, method


def test_async_wait_subscribes_again_and_times_out(fake):
    fake.state.break_watch(after=1)
    fake.state.fail("WatchJob", grpc.StatusCode.UNAVAILABLE, after=1)

    async def calls():
        async with async_client(fake, timeout=0.1) as client:
            finished = await client.wait(await client.train())
            fake.state.job_scripts[pb.JOB_KIND_TRAIN] = training_script()[:1]
            stalled = await client.train()
            with pytest.raises(TimeoutError, match=rf"job {stalled.id} .*training"):
                await client.wait(stalled.id, timeout=0.3)
            return finished

    assert asyncio.run(calls()).succeeded
    assert fake.state.calls("WatchJob") == 3 + 1  # broken, refused, read to the end; then the stalled one


def test_async_validation_and_no_retry_of_state_changes(fake):
    fake.state.fail("StartTraining", grpc.StatusCode.UNAVAILABLE)

    async def calls():
        async with async_client(fake) as client:
            with pytest.raises(ValueError, match="held_out_fraction"):
                await client.train(held_out_fraction=1.5)
            with pytest.raises(TypeError, match="job"):
                await client.wait("1")
            assert sent_nothing(fake)
            with pytest.raises(UnavailableError):
                await client.train()

    asyncio.run(calls())
    assert fake.state.calls("StartTraining") == 1
