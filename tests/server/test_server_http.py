# ruff: noqa: E501  (the table of routes reads best one per line)
"""The HTTP edge of a real server: the `openai` package, TEI's /embed, the thin JSON routes,
the gRPC bad-input matrix over HTTP, auth on every route, the body limit and metrics.

One server for the module, over TLS with api and admin keys, with the small limits of the
gRPC bad-input tests; its gRPC side is the reference the HTTP answers are compared with.
"""

from __future__ import annotations

import base64
import json
import socket
import ssl
import threading
import time
import urllib.request

import grpc
import httpx
import numpy as np
import pytest
from google.protobuf import json_format
from prometheus_client.parser import text_string_to_metric_families
from test_server_bad_inputs import CASES, LIMITS
from tokenizers import Tokenizer

from embedtune_client.contract import ADMIN_METHODS
from embedtune_client.v1 import embedtune_pb2 as pb
from embedtune_client.v1 import embedtune_pb2_grpc as pb_grpc
from embedtune_server.failpoints import BEFORE_INFERENCE, ENV, RELEASE_ENV
from embedtune_server.http.protojson import as_dict
from embedtune_server.launcher import free_port

openai = pytest.importorskip("openai")

API_KEY = "http-read-key"
ADMIN_KEY = "http-admin-key"
MAX_REQUEST_BYTES = 100_000
TEXTS = ["A man is playing a guitar.", "The stock market fell sharply.", "Zürich café 🙂"]


@pytest.fixture(scope="module")
def server(launch, certificates):
    limits = [part for name, value in LIMITS.items() for part in (f"--{name}", str(value))]
    metrics_port = free_port()
    process = launch(
        "--http-port", "0", "--metrics-port", str(metrics_port), "--api-key", API_KEY, "--admin-key", ADMIN_KEY,
        "--max-request-bytes", str(MAX_REQUEST_BYTES), *limits, *certificates.server_flags(),
    )  # fmt: skip
    process.metrics_port = metrics_port
    return process


@pytest.fixture(scope="module")
def base_url(server) -> str:
    return f"https://localhost:{server.http_port}"


@pytest.fixture(scope="module")
def http(base_url, certificates):
    """An HTTPS client that trusts the test CA; requests add their own key."""
    with httpx.Client(
        base_url=base_url, verify=ssl.create_default_context(cafile=str(certificates.ca)), timeout=60
    ) as client:
        yield client


def auth(key: str | None = ADMIN_KEY) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"} if key else {}


def _grpc_channel(server, certificates) -> grpc.Channel:
    credentials = grpc.ssl_channel_credentials(root_certificates=certificates.ca.read_bytes())
    return grpc.secure_channel(f"localhost:{server.port}", credentials)


def _grpc_key(key: str = ADMIN_KEY) -> list[tuple[str, str]]:
    return [("authorization", f"Bearer {key}")]


@pytest.fixture(scope="module")
def grpc_embed(server, certificates):
    with _grpc_channel(server, certificates) as channel:
        stub = pb_grpc.EmbedServiceStub(channel)
        yield lambda request: stub.Embed(request, metadata=_grpc_key(API_KEY), timeout=60)


@pytest.fixture(scope="module")
def client(base_url, certificates):
    """The real `openai` package, pointed at the server."""
    http_client = httpx.Client(verify=ssl.create_default_context(cafile=str(certificates.ca)))
    with openai.OpenAI(
        base_url=f"{base_url}/v1", api_key=API_KEY, http_client=http_client, max_retries=0
    ) as c:
        yield c


@pytest.fixture(scope="module")
def served_model(http) -> str:
    return http.get("/v1/models", headers=auth(API_KEY)).json()["data"][0]["id"]


def grpc_vectors(grpc_embed, texts, **fields) -> tuple[np.ndarray, pb.EmbedResponse]:
    response = grpc_embed(pb.EmbedRequest(inputs=texts, **fields))
    return np.array([e.values for e in response.embeddings]), response


def _vector(embedding: list[float] | str) -> np.ndarray:
    """The openai client decodes base64 itself only when it chose it (encoding_format omitted)."""
    if isinstance(embedding, str):
        return np.frombuffer(base64.b64decode(embedding), dtype="<f4")
    return np.array(embedding)


@pytest.mark.parametrize("encoding_format", ["float", "base64", None])
@pytest.mark.parametrize("given", [TEXTS[0], TEXTS])
@pytest.mark.parametrize("dimensions", [None, 64])
def test_openai_client_gets_the_grpc_embeddings(
    client, grpc_embed, served_model, encoding_format, given, dimensions
):
    texts = [given] if isinstance(given, str) else given
    extra = {"dimensions": dimensions} if dimensions else {}
    if encoding_format:
        extra["encoding_format"] = encoding_format
    raw = client.embeddings.with_raw_response.create(model=served_model, input=given, **extra)
    created = raw.parse()
    fields = {"dimensions": dimensions, "normalize": True} if dimensions else {}
    expected, reference = grpc_vectors(grpc_embed, texts, **fields)
    got = np.array([_vector(d.embedding) for d in created.data])
    assert [d.index for d in created.data] == list(range(len(texts)))
    assert got.shape == expected.shape == (len(texts), dimensions or 384)
    np.testing.assert_allclose(got, expected, atol=1e-6)
    if dimensions:
        np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1, atol=1e-5)
    assert raw.headers["x-model-version"] == created.model_extra["model_version"] == reference.model_version
    assert created.usage.prompt_tokens == created.usage.total_tokens == sum(reference.token_counts)


def test_token_ids_are_embedded_as_the_text_they_spell(
    client, grpc_embed, server, served_model, onnx_model_dir
):
    tokenizer = Tokenizer.from_file(str(onnx_model_dir / "tokenizer.json"))
    ids = [tokenizer.encode(t, add_special_tokens=False).ids for t in TEXTS[:2]]
    expected, _ = grpc_vectors(grpc_embed, TEXTS[:2])
    for given, rows in ((ids[0], expected[:1]), (ids, expected)):
        created = client.embeddings.create(model=served_model, input=given, encoding_format="float")
        np.testing.assert_allclose([d.embedding for d in created.data], rows, atol=1e-6)


def test_model_must_be_the_served_one(http, served_model):
    refused = http.post(
        "/v1/embeddings", json={"model": "text-embedding-3-small", "input": "x"}, headers=auth()
    )
    assert refused.status_code == 404
    error = refused.json()["error"]
    assert (
        error["param"] == "model"
        and served_model in error["message"]
        and "--http-accept-any-model" in error["message"]
    )
    models = http.get("/v1/models", headers=auth(API_KEY)).json()
    assert models["object"] == "list" and models["data"][0]["object"] == "model"


def test_tei_embed_info_and_health(http, grpc_embed):
    response = http.post("/embed", json={"inputs": TEXTS, "truncate": True}, headers=auth(API_KEY))
    assert response.status_code == 200, response.text
    expected, reference = grpc_vectors(grpc_embed, TEXTS, normalize=True)
    np.testing.assert_allclose(np.array(response.json()), expected, atol=1e-6)
    assert response.headers["x-model-version"] == reference.model_version
    single = http.post("/embed", json={"inputs": TEXTS[0], "dimensions": 8}, headers=auth(API_KEY)).json()
    assert len(single) == 1 and len(single[0]) == 8
    info = http.get("/info", headers=auth(API_KEY)).json()
    assert (
        info["max_client_batch_size"] == LIMITS["max-client-batch-size"] and info["max_input_length"] == 256
    )
    assert info["model_version"] == reference.model_version
    assert http.get("/health").json()["status"] == "serving"


def test_info_reports_max_request_bytes_over_both_protocols(server, http, certificates):
    with _grpc_channel(server, certificates) as channel:
        limits = pb_grpc.EmbedServiceStub(channel).Info(pb.InfoRequest(), metadata=_grpc_key()).limits
    assert limits.max_request_bytes == MAX_REQUEST_BYTES
    info = http.get("/info", headers=auth(API_KEY)).json()
    assert info["max_request_bytes"] == info["embedtune"]["limits"]["max_request_bytes"] == MAX_REQUEST_BYTES


def test_count_is_the_grpc_count(server, http, certificates):
    def counts() -> tuple[int, int]:
        with _grpc_channel(server, certificates) as channel:
            by_grpc = pb_grpc.IndexServiceStub(channel).Count(pb.CountRequest(), metadata=_grpc_key()).count
        answer = http.get("/v1/documents:count", headers=auth(API_KEY))
        assert answer.status_code == 200, answer.text
        return answer.json()["count"], by_grpc

    before, _ = counts()
    documents = [{"id": f"counted-{i}", "text": f"counted document {i}"} for i in range(3)]
    assert http.post("/v1/documents", json={"documents": documents}, headers=auth()).status_code == 200
    assert counts() == (before + 3, before + 3)
    http.delete("/v1/documents/counted-0", headers=auth())
    assert counts() == (before + 2, before + 2)


def test_documents_search_feedback_round_trip(http):
    documents = [
        {"id": "guitar", "text": "A man is playing a guitar.", "metadata": {"topic": "music"}},
        {"id": "market", "text": "The stock market fell sharply."},
    ]
    upserted = http.post("/v1/documents", json={"documents": documents}, headers=auth())
    assert upserted.status_code == 200, upserted.text
    assert (
        upserted.json()["upserted"] == 2
        and upserted.headers["x-model-version"] == upserted.json()["model_version"]
    )
    found = http.post("/v1/search", json={"text": "someone plays music", "k": 1}, headers=auth(API_KEY))
    assert found.json()["hits"][0]["id"] == "guitar" and found.json()["hits"][0]["metadata"] == {
        "topic": "music"
    }
    assert found.headers["x-model-version"] == found.json()["model_version"]
    filtered = http.post(
        "/v1/search", json={"text": "music", "k": 2, "filter": {"topic": "music"}}, headers=auth(API_KEY)
    )
    assert [h["id"] for h in filtered.json()["hits"]] == ["guitar"]
    batch = http.post(
        "/v1/search/batch", json={"queries": [{"text": "shares", "k": 1}]}, headers=auth(API_KEY)
    )
    assert batch.json()["results"][0]["hits"][0]["id"] == "market"
    assert http.get("/v1/documents/market", headers=auth(API_KEY)).json()["text"] == documents[1]["text"]
    item = {"pair": {"anchor": {"text": "falling shares"}, "positive": {"document_id": "market"}}}
    stored = http.post("/v1/feedback", json={"items": [item]}, headers=auth())
    assert (
        stored.status_code == 200
        and len(stored.json()["ids"]) == 1
        and isinstance(stored.json()["ids"][0], int)
    )
    assert http.delete("/v1/documents/market", headers=auth()).json() == {"deleted": 1}
    assert http.get("/v1/documents/market", headers=auth(API_KEY)).status_code == 404
    assert http.delete("/v1/documents/market", params={"ignore_missing": "true"}, headers=auth()).json() == {
        "deleted": 0
    }


def test_jobs_and_versions(http):
    versions = http.get("/v1/models/versions", headers=auth()).json()["models"]
    assert [v["active"] for v in versions] == [True]
    assert http.get("/v1/jobs", headers=auth()).json() == {"jobs": []}
    missing = http.get("/v1/jobs/99", headers=auth())
    assert missing.status_code == 404 and "99" in missing.json()["error"]["message"]


def test_watching_a_job_streams_what_grpc_watch_job_streams(server, http, certificates, tmp_path):
    """A job that fails at once (the source is no model): the stream is the job now, then each
    change, and ends after the failed state, as WatchJob's; an unknown job is 404."""
    started = http.post("/v1/models/versions", json={"source": str(tmp_path)}, headers=auth())
    assert started.status_code == 200, started.text
    job_id = started.json()["id"]
    with http.stream("GET", f"/v1/jobs/{job_id}/watch", headers=auth()) as stream:
        assert stream.status_code == 200 and stream.headers["content-type"] == "application/x-ndjson"
        lines = [json.loads(line) for line in stream.iter_lines()]
    assert all(line["id"] == job_id for line in lines)
    assert [line["state"] for line in lines][-1] == "JOB_STATE_FAILED"
    assert "JOB_STATE_FAILED" not in [line["state"] for line in lines[:-1]]
    with _grpc_channel(server, certificates) as channel:
        watched = list(
            pb_grpc.TrainingServiceStub(channel).WatchJob(pb.GetJobRequest(id=job_id), metadata=_grpc_key())
        )
    assert lines[-1] == as_dict(watched[-1])
    missing = http.get(f"/v1/jobs/{job_id + 100}/watch", headers=auth())
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


def _http_request(service: str, method: str, request) -> tuple[str, str, dict | None]:
    """The HTTP form of a gRPC case: (verb, path, JSON body)."""
    body = json_format.MessageToDict(request, preserving_proto_field_name=True)
    if method == "Embed":
        truncate = request.truncate if request.HasField("truncate") else True
        return "POST", "/embed", {**body, "inputs": list(request.inputs), "truncate": truncate}
    if method == "Get":
        return "GET", f"/v1/documents/{request.ids[1]}", None  # the first unknown id alone
    if method == "Delete":
        return "DELETE", f"/v1/documents/{request.ids[0]}", None
    path = {
        "Search": "/v1/search",
        "BatchSearch": "/v1/search/batch",
        "Upsert": "/v1/documents",
        "SubmitFeedback": "/v1/feedback",
    }[method]
    return "POST", path, body


HTTP_STATUS = {grpc.StatusCode.INVALID_ARGUMENT: 400, grpc.StatusCode.NOT_FOUND: 404}
# Cases whose HTTP body is refused by the route's JSON schema before the RPC: 422 naming the field.
SCHEMA_REFUSED = {"unknown truncation direction": "truncation_direction"}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_request_over_http_gets_the_grpc_message(http, case):
    _, method, request, code, fragments = CASES[case]
    verb, path, body = _http_request(*CASES[case][:2], request)
    response = http.request(verb, path, json=body, headers=auth())
    if path.endswith("/"):
        # An empty id has no URL of its own: the path names no route (and is not redirected).
        assert response.status_code == 404, response.text
        assert response.json()["error"]["code"] == "not_found"
        return
    if case in SCHEMA_REFUSED:
        assert response.status_code == 422, response.text
        assert response.json()["error"]["param"] == SCHEMA_REFUSED[case]
        return
    assert response.status_code == HTTP_STATUS[code], response.text
    error = response.json()["error"]
    assert error["code"] == code.name.lower() and error["type"]
    for fragment in fragments:
        if method == "Get" and fragment == "'gone'":
            continue  # one id per GET
        assert fragment in error["message"]
    assert response.status_code == 400 or error["param"] is None or error["param"] in error["message"]
    assert http.post("/embed", json={"inputs": "still serving"}, headers=auth()).status_code == 200


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"input": "x", "encoding_format": "binary"}, "encoding_format"),
        ({"input": 5}, "input"),
        ({"input": "x", "dimensions": -1}, "dimensions"),
    ],
)
def test_a_body_of_the_wrong_shape_is_422(http, body, fragment):
    response = http.post("/v1/embeddings", json=body, headers=auth())
    assert response.status_code == 422 and fragment in response.json()["error"]["message"]


def test_bad_token_ids_and_malformed_bodies_are_400(http):
    out_of_range = http.post("/v1/embeddings", json={"input": [[101, 10**9]]}, headers=auth())
    assert out_of_range.status_code == 400
    assert (
        out_of_range.json()["error"]["param"] == "input[0][1]"
        and "vocabulary" in out_of_range.json()["error"]["message"]
    )
    for content in (b"{not json", b'{"k": "three", "text": "q"}', b'{"unknown_field": 1}'):
        response = http.post(
            "/v1/search", content=content, headers={**auth(), "content-type": "application/json"}
        )
        assert response.status_code == 400 and response.json()["error"]["message"].startswith(
            "malformed request: "
        )


def test_overload_is_429_with_retry_after(http):
    statuses: list[httpx.Response] = []
    lock = threading.Lock()
    body = {"inputs": ["a flood of requests " * 20] * 4, "truncate": True}

    def one() -> None:
        response = http.post("/embed", json=body, headers=auth())
        with lock:
            statuses.append(response)

    threads = [threading.Thread(target=one) for _ in range(24)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    refused = [r for r in statuses if r.status_code == 429]
    assert refused and {r.status_code for r in statuses} == {200, 429}
    assert all(
        r.headers["retry-after"] == "1" and "max_concurrent_requests=2" in r.json()["error"]["message"]
        for r in refused
    )


def _raw_https(server, certificates, head: bytes, body_chunks) -> bytes:
    """Send `head`, then body chunks until the server answers; the whole answer (it closes)."""
    context = ssl.create_default_context(cafile=str(certificates.ca))
    with (
        socket.create_connection(("127.0.0.1", server.http_port), timeout=30) as raw,
        context.wrap_socket(raw, server_hostname="localhost") as tls,
    ):
        tls.sendall(head)
        tls.settimeout(0.2)
        answer = b""
        for chunk in body_chunks:
            try:
                answer = tls.recv(65536)
                break
            except TimeoutError:
                tls.sendall(chunk)
        tls.settimeout(30)
        while part := tls.recv(65536):
            answer += part
        return answer


def test_a_body_over_the_limit_is_413_before_it_is_read(server, certificates):
    declared = MAX_REQUEST_BYTES * 100
    head = (
        f"POST /v1/documents HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {ADMIN_KEY}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {declared}\r\n\r\n"
    ).encode()
    answer = _raw_https(server, certificates, head, [])  # not one byte of the body is sent
    assert answer.startswith(b"HTTP/1.1 413") and b"max_request_bytes=100000" in answer
    chunked = (
        f"POST /v1/documents HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {ADMIN_KEY}\r\n"
        "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    ).encode()
    chunk = b"%x\r\n%s\r\n" % (10_000, b" " * 10_000)
    sent = iter([chunk] * 100)  # 1 MB offered, 10 times the limit
    answer = _raw_https(server, certificates, chunked, sent)
    assert answer.startswith(b"HTTP/1.1 413") and b'"code":"request_too_large"' in answer
    assert len(list(sent)) > 0  # refused before the client had sent it all


def test_unknown_route_and_method_in_the_error_shape(http):
    missing = http.get("/v1/nothing-here", headers=auth())
    assert missing.status_code == 404 and "GET /v1/nothing-here" in missing.json()["error"]["message"]
    wrong_method = http.put("/v1/embeddings", headers=auth())
    assert wrong_method.status_code == 405 and wrong_method.json()["error"]["code"] == "method_not_allowed"
    assert "POST" in wrong_method.json()["error"]["message"] and wrong_method.headers["allow"] == "POST"


def _path_example(path: str) -> str:
    return path.replace("{document_id}", "d").replace("{job_id}", "1").replace("{version}", "v0")


def test_every_route_needs_its_key(http):
    """Every route of the served OpenAPI schema that calls an RPC: no key or a wrong one is 401,
    the api key on an admin-only RPC is 403; the docs and /health stay open."""
    schema = http.get("/openapi.json").json()
    guarded = 0
    for path, operations in schema["paths"].items():
        for verb, operation in operations.items():
            rpc = operation.get("x-embedtune-rpc")
            if rpc is None:
                assert path == "/health", path
                continue
            guarded += 1
            url = _path_example(path)
            for key in (None, "wrong"):
                refused = http.request(verb.upper(), url, headers=auth(key))
                assert refused.status_code == 401, (verb, path, refused.text)
                assert refused.json()["error"]["type"] == "authentication_error"
            with_api_key = http.request(verb.upper(), url, headers=auth(API_KEY))
            if rpc in ADMIN_METHODS:
                assert with_api_key.status_code == 403, (verb, path)
            else:
                assert with_api_key.status_code not in (401, 403), (verb, path, with_api_key.text)
    assert guarded >= 15
    assert http.get("/docs").status_code == 200 and http.get("/health").status_code == 200


def _scrape(server) -> dict:
    text = (
        urllib.request.urlopen(f"http://127.0.0.1:{server.metrics_port}/metrics", timeout=10).read().decode()
    )
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for f in text_string_to_metric_families(text)
        for s in f.samples
    }


def test_metrics_label_requests_by_protocol_and_route(server, http, grpc_embed):
    def count(metrics, protocol, rpc, code):
        labels = frozenset({"protocol": protocol, "rpc": rpc, "code": code}.items())
        return metrics.get(("embedtune_requests_total", labels), 0)

    before = _scrape(server)
    http.post("/embed", json={"inputs": "counted"}, headers=auth())
    http.post("/embed", json={"inputs": []}, headers=auth())
    http.get("/v1/no-such-route", headers=auth())
    grpc_embed(pb.EmbedRequest(inputs=["counted too"]))

    def added(metrics, protocol, rpc, code):
        return count(metrics, protocol, rpc, code) - count(before, protocol, rpc, code)

    expected = {("http", "POST /embed", "200"): 1, ("http", "POST /embed", "400"): 1}
    expected |= {("http", "unrouted", "404"): 1, ("grpc", "Embed", "OK"): 1}
    # a request is counted once its handler has returned, which may be after the client has its answer
    deadline = time.monotonic() + 60
    after = _scrape(server)
    while any(added(after, *labels) < n for labels, n in expected.items()) and time.monotonic() < deadline:
        time.sleep(0.05)
        after = _scrape(server)
    assert {labels: added(after, *labels) for labels in expected} == expected


def test_a_client_that_disconnects_has_its_queued_inputs_dropped(launch, tmp_path):
    """As a gRPC call the client cancels: the request leaves admission at once, and its inputs,
    still queued behind a batch held before inference, are dropped, never embedded."""
    release = tmp_path / "release"
    metrics_port = free_port()
    flags = ("--max-batch-requests", "1", "--inference-streams", "1", "--metrics-port", str(metrics_port))
    held = launch("--http-port", "0", *flags, env={ENV: BEFORE_INFERENCE, RELEASE_ENV: str(release)})
    held.metrics_port = metrics_port

    def scrape_until(done) -> dict:
        deadline = time.monotonic() + 60
        metrics = _scrape(held)
        while not done(metrics) and time.monotonic() < deadline:
            time.sleep(0.05)
            metrics = _scrape(held)
        return metrics

    def value(metrics: dict, name: str, **labels: str) -> float:
        return metrics.get((name, frozenset(labels.items())), 0.0)

    answers: list[httpx.Response] = []
    first = threading.Thread(
        target=lambda: answers.append(
            httpx.post(f"http://127.0.0.1:{held.http_port}/embed", json={"inputs": "held"}, timeout=120)
        )
    )
    first.start()
    scrape_until(lambda m: value(m, "embedtune_batch_size_count") == 1)  # the stream holds its batch
    body = json.dumps({"inputs": ["dropped", "dropped too"]}).encode()
    head = f"POST /embed HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    with socket.create_connection(("127.0.0.1", held.http_port), timeout=30) as raw:
        raw.sendall(head.encode() + body)
        queued = scrape_until(lambda m: value(m, "embedtune_queue_size") == 2)
        assert value(queued, "embedtune_queue_size") == 2 and value(queued, "embedtune_embed_in_flight") == 2
    gone = scrape_until(lambda m: value(m, "embedtune_embed_in_flight") == 1)
    assert value(gone, "embedtune_embed_in_flight") == 1
    assert value(gone, "embedtune_requests_total", protocol="http", rpc="POST /embed", code="499") == 1
    release.touch()
    first.join()
    assert answers[0].status_code == 200
    ended = scrape_until(lambda m: value(m, "embedtune_cancelled_inputs_total") == 2)
    assert value(ended, "embedtune_cancelled_inputs_total") == 2
    assert value(ended, "embedtune_batch_size_count") == 1  # the held batch only
    assert value(ended, "embedtune_queue_size") == 0


def test_a_taken_http_port_stops_the_start_with_one_line(launch, server):
    with pytest.raises(RuntimeError) as failed:
        launch("--http-port", str(server.http_port))
    assert "exited with 2" in str(failed.value) and "--http-port" in str(failed.value)
    assert "Traceback" not in str(failed.value)


def test_graceful_stop_ends_both_protocols(server):
    assert server.stop() == 0
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", server.http_port), timeout=5).close()
    assert "Traceback" not in server.log_text()
