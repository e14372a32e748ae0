"""API and admin keys over TLS, with the test CA's certificate."""

from __future__ import annotations

import functools
import os
import subprocess
import sys

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from embedtune_client.contract import ADMIN_METHODS
from embedtune_client.v1 import embedtune_pb2 as pb
from embedtune_client.v1 import embedtune_pb2_grpc as pb_grpc
from embedtune_server.auth import check

API_KEY = "read-key-123"
ADMIN_KEY = "admin-key-456"


@pytest.fixture(scope="module")
def server(launch, certificates):
    return launch("--api-key", API_KEY, "--admin-key", ADMIN_KEY, *certificates.server_flags())


@pytest.fixture(scope="module")
def channel(server, certificates):
    credentials = grpc.ssl_channel_credentials(root_certificates=certificates.ca.read_bytes())
    with grpc.secure_channel(server.address, credentials) as channel:
        yield channel


def bearer(key: str | None):
    return [("authorization", f"Bearer {key}")] if key else []


def code_of(call, request, key) -> grpc.StatusCode:
    try:
        call(request, metadata=bearer(key), timeout=30)
    except grpc.RpcError as error:
        return error.code()
    return grpc.StatusCode.OK


UPSERT = pb.UpsertRequest(documents=[pb.Document(id="a", text="secret document")])


@pytest.mark.parametrize(
    ("key", "embed_code", "upsert_code"),
    [
        (None, grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.UNAUTHENTICATED),
        ("wrong", grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.UNAUTHENTICATED),
        (API_KEY, grpc.StatusCode.OK, grpc.StatusCode.PERMISSION_DENIED),
        (ADMIN_KEY, grpc.StatusCode.OK, grpc.StatusCode.OK),
    ],
)
def test_keys_over_tls(channel, key, embed_code, upsert_code):
    embed = pb_grpc.EmbedServiceStub(channel)
    index = pb_grpc.IndexServiceStub(channel)
    feedback = pb_grpc.FeedbackServiceStub(channel)
    assert code_of(embed.Embed, pb.EmbedRequest(inputs=["hello"]), key) == embed_code
    assert code_of(index.Count, pb.CountRequest(), key) == embed_code
    assert code_of(index.Upsert, UPSERT, key) == upsert_code
    assert code_of(index.Delete, pb.DeleteRequest(ids=["zz"], ignore_missing=True), key) == upsert_code
    item = pb.FeedbackItem(labeled_text=pb.LabeledText(text=pb.TextRef(text="t"), label=1))
    assert code_of(feedback.SubmitFeedback, pb.SubmitFeedbackRequest(items=[item]), key) == upsert_code


def test_streaming_rpc_is_guarded_too(channel):
    embed = pb_grpc.EmbedServiceStub(channel)
    with pytest.raises(grpc.RpcError) as refused:
        list(embed.EmbedStream(iter([pb.EmbedRequest(inputs=["x"])]), timeout=30))
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
    responses = list(
        embed.EmbedStream(iter([pb.EmbedRequest(inputs=["x"])]), metadata=bearer(API_KEY), timeout=30)
    )
    assert len(responses) == 1


def test_health_stays_open_and_info_says_auth_is_required(channel):
    health = health_pb2_grpc.HealthStub(channel)
    assert health.Check(health_pb2.HealthCheckRequest()).status == health_pb2.HealthCheckResponse.SERVING
    info = pb_grpc.EmbedServiceStub(channel).Info(pb.InfoRequest(), metadata=bearer(API_KEY))
    assert info.auth_required


def test_single_key_deployment_uses_the_api_key_for_writes():
    assert check("/embedtune.v1.IndexService/Upsert", "k", api_key="k", admin_key=None) is None
    assert check("/embedtune.v1.IndexService/Upsert", None, api_key=None, admin_key=None) is None
    assert check("/embedtune.v1.IndexService/Upsert", "x", api_key="k", admin_key=None)[0] == (
        grpc.StatusCode.UNAUTHENTICATED
    )


@pytest.mark.parametrize("value", ["Bearer", "Bearer ", "bearer   "])
def test_an_empty_bearer_token_is_unauthenticated(channel, value):
    metadata = [("authorization", value)]
    index = pb_grpc.IndexServiceStub(channel)
    for call, request in [
        (index.Upsert, UPSERT),
        (index.Delete, pb.DeleteRequest(ids=["zz"], ignore_missing=True)),
        (pb_grpc.EmbedServiceStub(channel).Embed, pb.EmbedRequest(inputs=["hello"])),
    ]:
        with pytest.raises(grpc.RpcError) as refused:
            call(request, metadata=metadata, timeout=30)
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_an_empty_token_never_matches_even_an_empty_key():
    for method, admin_key in [("IndexService/Upsert", ""), ("IndexService/Count", None)]:
        refusal = check(f"/embedtune.v1.{method}", "", api_key="", admin_key=admin_key)
        assert refusal is not None and refusal[0] == grpc.StatusCode.UNAUTHENTICATED, method


API_KEY_NAMED = "--api-key (EMBEDTUNE_API_KEY)"
ADMIN_KEY_NAMED = "--admin-key (EMBEDTUNE_ADMIN_KEY)"


@pytest.mark.parametrize(
    ("command", "env", "flags", "named"),
    [
        ("embedtune_client.cli", {"EMBEDTUNE_API_KEY": ""}, [], API_KEY_NAMED),
        ("embedtune_server", {"EMBEDTUNE_ADMIN_KEY": " "}, [], ADMIN_KEY_NAMED),
        ("embedtune_server", {}, ["--api-key", ""], API_KEY_NAMED),
        ("embedtune_client.cli", {}, ["--admin-key", " \t"], ADMIN_KEY_NAMED),
    ],
)
def test_an_empty_key_stops_the_server_before_it_starts(onnx_model_dir, tmp_path, command, env, flags, named):
    keys = {"EMBEDTUNE_API_KEY", "EMBEDTUNE_ADMIN_KEY"}
    environment = {k: v for k, v in os.environ.items() if k not in keys}
    home = tmp_path / "home"
    finished = subprocess.run(
        [sys.executable, "-m", command, "serve", "--home", str(home), "--model", str(onnx_model_dir),
         "--port", "0", *flags],
        env={**environment, **env}, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert finished.returncode == 2, finished.stderr
    lines = finished.stderr.strip().splitlines()
    assert len(lines) == 1, finished.stderr
    assert f"{named} is empty" in lines[0]
    assert not home.exists()  # refused before touching anything


# A request for each training and model method whose handler would answer without side effects
# (NOT_FOUND for a job or version that does not exist, or the list).
JOB_AND_MODEL_CALLS = {
    "TrainingService": {
        "GetJob": pb.GetJobRequest(id=999),
        "ListJobs": pb.ListJobsRequest(),
        "CancelJob": pb.GetJobRequest(id=999),
        "WatchJob": pb.GetJobRequest(id=999),
    },
    "ModelService": {
        "ListModels": pb.ListModelsRequest(),
        "ActivateModel": pb.ActivateModelRequest(version="v404"),
    },
}


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        (None, {grpc.StatusCode.UNAUTHENTICATED}),
        (API_KEY, {grpc.StatusCode.PERMISSION_DENIED}),
        (ADMIN_KEY, {grpc.StatusCode.OK, grpc.StatusCode.NOT_FOUND}),
    ],
)
def test_every_training_and_model_method_needs_the_admin_key(channel, key, expected):
    for service, calls in JOB_AND_MODEL_CALLS.items():
        stub = getattr(pb_grpc, f"{service}Stub")(channel)
        for method, request in calls.items():
            call = getattr(stub, method)
            if method == "WatchJob":  # a stream: its status arrives while it is read
                call = functools.partial(lambda stream, r, **kw: list(stream(r, **kw)), call)
            code = code_of(call, request, key)
            assert code in expected, f"{method} with key {key!r}: {code}"
    assert {m for calls in JOB_AND_MODEL_CALLS.values() for m in calls} | {"StartTraining", "AddModel"} == {
        path.rsplit("/", 1)[-1] for path in ADMIN_METHODS if "Training" in path or "Model" in path
    }
