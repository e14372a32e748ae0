"""The blocking client against the in-test fake server."""

from __future__ import annotations

import threading

import grpc
import numpy as np
import pytest
from client_fakes import DIMENSION, FAST_RETRY, fake_vector

from embedtune_client import (
    Client,
    DocumentRef,
    EmbedtuneError,
    InvalidArgumentError,
    LabeledText,
    NotFoundError,
    Pair,
    ResourceExhaustedError,
    RetryPolicy,
    UnavailableError,
)

TEXTS = [f"text number {i}" for i in range(10)]


def test_embed_splits_by_server_limit_and_keeps_order(client, fake):
    vectors = client.embed(TEXTS)
    sent = [list(r.inputs) for r in fake.state.requests["Embed"]]
    limit = fake.state.limits.max_client_batch_size
    assert all(len(chunk) <= limit for chunk in sent)
    assert len(sent) == -(-len(TEXTS) // limit)
    assert sorted(t for chunk in sent for t in chunk) == sorted(TEXTS)
    assert vectors.dtype == np.float32 and vectors.shape == (len(TEXTS), DIMENSION)
    np.testing.assert_allclose(vectors, np.stack([fake_vector(t) for t in TEXTS]), rtol=1e-6)


def test_info_is_fetched_once_for_many_chunked_calls(client, fake):
    client.embed(TEXTS)
    client.embed(TEXTS)
    assert fake.state.calls("Info") == 1


def test_embed_pipelines_chunks(fake):
    """Each Embed waits at a barrier for all three chunks: only concurrent chunks can pass it."""
    fake.state.limits.max_client_batch_size = 2
    fake.state.embed_barrier = threading.Barrier(3, timeout=10)
    with Client(fake.target, max_in_flight=3) as client:
        vectors = client.embed(TEXTS[:6])
    assert fake.state.calls("Embed") == 3
    np.testing.assert_allclose(vectors, np.stack([fake_vector(t) for t in TEXTS[:6]]), rtol=1e-6)


def test_embed_options_and_details(client, fake):
    result = client.embed_detailed(["a b c", "d"], normalize=False, dimensions=4, truncate=False)
    request = fake.state.requests["Embed"][0]
    assert request.dimensions == 4 and request.normalize is False and request.truncate is False
    assert result.embeddings.shape == (2, 4)
    assert result.model_version == "v1"
    assert result.token_counts == (3, 1)
    assert result.timings.inference_us == 3


def test_embed_of_nothing_is_an_empty_matrix(client, fake):
    assert client.embed([]).shape == (0, DIMENSION)
    assert fake.state.calls("Embed") == 0


def test_model_swap_mid_call_is_re_embedded(client, fake):
    """The first chunk is served by v1, the rest by v2: the client re-embeds all with v2."""
    fake.state.model_versions.extend(["v2"])
    result = client.embed_detailed(TEXTS)
    assert result.model_version == "v2"
    assert fake.state.calls("Embed") > -(-len(TEXTS) // fake.state.limits.max_client_batch_size)


@pytest.mark.parametrize("code", [grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED])
@pytest.mark.parametrize(
    ("method", "call"),
    [
        ("Embed", lambda c: c.embed(["x"])),
        ("Count", lambda c: c.count()),
        ("Search", lambda c: c.search("x")),
        ("Info", lambda c: c.info()),
        ("Upsert", lambda c: c.upsert(["a"], ["x"])),
    ],
)
def test_idempotent_calls_are_retried(client, fake, method, call, code):
    fake.state.fail(method, code, times=2)
    call(client)
    assert fake.state.calls(method) == 3


@pytest.mark.parametrize(
    ("method", "call"),
    [
        ("SubmitFeedback", lambda c: c.feedback_pair("a", "b")),
        ("Delete", lambda c: c.delete(["a"], ignore_missing=True)),
    ],
)
def test_non_idempotent_calls_are_not_retried(client, fake, method, call):
    fake.state.fail(method, grpc.StatusCode.UNAVAILABLE)
    with pytest.raises(UnavailableError):
        call(client)
    assert fake.state.calls(method) == 1


def test_retries_stop_after_max_attempts(client, fake):
    fake.state.fail("Count", grpc.StatusCode.RESOURCE_EXHAUSTED, times=10)
    with pytest.raises(ResourceExhaustedError) as caught:
        client.count()
    assert fake.state.calls("Count") == FAST_RETRY.max_attempts
    assert caught.value.code is grpc.StatusCode.RESOURCE_EXHAUSTED


def test_other_codes_are_not_retried(client, fake):
    fake.state.fail("Count", grpc.StatusCode.INTERNAL)
    with pytest.raises(EmbedtuneError):
        client.count()
    assert fake.state.calls("Count") == 1


def test_retry_can_be_turned_off(fake):
    fake.state.fail("Count", grpc.StatusCode.UNAVAILABLE)
    with Client(fake.target, retry=RetryPolicy(max_attempts=1)) as client, pytest.raises(UnavailableError):
        client.count()
    assert fake.state.calls("Count") == 1


def test_typed_errors_carry_code_and_message(client):
    with pytest.raises(NotFoundError) as caught:
        client.get(["nope"])
    error = caught.value
    assert error.code is grpc.StatusCode.NOT_FOUND
    assert "nope" in error.details
    assert error.method == "Get"
    assert "NOT_FOUND" in str(error) and "nope" in str(error)


def test_server_invalid_argument_is_typed(client, fake):
    fake.state.fail("Search", grpc.StatusCode.INVALID_ARGUMENT)
    with pytest.raises(InvalidArgumentError, match="injected INVALID_ARGUMENT"):
        client.search("x")


def test_unreachable_server_is_unavailable():
    with (
        socket_free_port() as port,
        Client(f"127.0.0.1:{port}", retry=FAST_RETRY, timeout=5) as client,
        pytest.raises(UnavailableError),
    ):
        client.count()


def socket_free_port():
    """A port nothing listens on (bound, not listening, so no other test takes it meanwhile)."""
    import contextlib
    import socket

    @contextlib.contextmanager
    def reserved():
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            yield sock.getsockname()[1]

    return reserved()


def test_api_key_on_reads_admin_key_on_writes(client, fake):
    client.count()
    client.upsert(["a"], ["x"])
    client.feedback_pair("a", "b")
    client.delete(["a"])
    assert fake.state.metadata["Count"][0]["authorization"] == "Bearer api-key"
    for method in ("Upsert", "SubmitFeedback", "Delete"):
        assert fake.state.metadata[method][0]["authorization"] == "Bearer admin-key"


def test_api_key_is_used_for_writes_without_admin_key(fake):
    with Client(fake.target, api_key="only") as client:
        client.upsert(["a"], ["x"])
    assert fake.state.metadata["Upsert"][0]["authorization"] == "Bearer only"


def test_no_key_sends_no_authorization(fake):
    with Client(fake.target) as client:
        client.count()
    assert "authorization" not in fake.state.metadata["Count"][0]


def test_context_manager_closes_the_channel(fake):
    with Client(fake.target) as client:
        client.count()
        channel = client._channel
    assert client.closed
    with pytest.raises(RuntimeError, match="closed"):
        client.count()
    # The grpc channel itself refuses calls once closed.
    with pytest.raises(ValueError):
        channel.unary_unary("/embedtune.v1.IndexService/Count")(b"")


def test_documents_round_trip(client, fake):
    ids = [f"d{i}" for i in range(6)]
    result = client.upsert(ids, TEXTS[:6], [{"n": str(i)} for i in range(6)])
    assert result.upserted == 6 and result.model_version == "v1"
    assert all(len(r.documents) <= 4 for r in fake.state.requests["Upsert"])
    assert client.count() == 6
    documents = client.get(["d3", "d1"])
    assert [(d.id, d.text, dict(d.metadata)) for d in documents] == [
        ("d3", TEXTS[3], {"n": "3"}),
        ("d1", TEXTS[1], {"n": "1"}),
    ]
    # more ids than max_client_batch_size: fetched in chunks, returned in the order asked
    many = ["d5", "d0", "d4", "d2", "d3", "d1"]
    assert [d.id for d in client.get(many)] == many
    assert sorted(len(r.ids) for r in fake.state.requests["Get"][-2:]) == [2, 4]  # sent concurrently
    assert client.delete(["d1", "zz"], ignore_missing=True) == 1
    assert client.count() == 5


def test_search_by_text_vector_and_filter(client, fake):
    client.upsert(["a", "b", "c"], ["apple", "banana", "cherry"], [{"k": "1"}, {"k": "2"}, {"k": "1"}])
    hits = client.search("apple", k=2)
    assert hits[0].id == "a" and len(hits) == 2 and hits.model_version == "v1"
    assert hits[0].score >= hits[1].score
    by_vector = client.search(fake_vector("banana"), k=1)
    assert by_vector[0].id == "b"
    filtered = client.search("apple", k=3, filter={"k": "2"})
    assert [h.id for h in filtered] == ["b"]
    assert dict(fake.state.requests["Search"][-1].filter) == {"k": "2"}


def test_search_batch_chunks_and_keeps_query_order(client, fake):
    texts = ["apple", "banana", "cherry", "date", "elder", "fig"]
    client.upsert(texts, texts)
    results = client.search_batch(texts, k=1)
    assert [r[0].id for r in results] == texts
    assert fake.state.calls("BatchSearch") == 2


def test_feedback_shapes_and_chunks(client, fake):
    assert client.feedback_triplet("q", DocumentRef("d1"), "bad") == 1
    assert client.feedback_labeled("a", "b", 0.25) == 2
    assert client.feedback_labeled("a", "b", 3) == 3
    ids = client.feedback_many([Pair("a", "b"), LabeledText("t", 1), Pair("c", "d")])
    assert ids == [4, 5, 6]
    assert fake.state.calls("SubmitFeedback") == 3 + 2  # three items over a limit of two
    triplet, score, label = fake.state.feedback[:3]
    assert triplet.triplet.positive.document_id == "d1" and triplet.triplet.anchor.text == "q"
    assert score.labeled_pair.WhichOneof("label") == "score" and score.labeled_pair.score == 0.25
    assert label.labeled_pair.WhichOneof("label") == "class_label" and label.labeled_pair.class_label == 3


def test_feedback_chunks_go_in_order_so_a_failure_stores_a_prefix(client, fake):
    fake.state.fail("SubmitFeedback", grpc.StatusCode.UNAVAILABLE, after=1)
    items = [Pair(f"a{i}", f"b{i}") for i in range(5)]
    with pytest.raises(UnavailableError):
        client.feedback_many(items)
    assert [f.pair.anchor.text for f in fake.state.feedback] == ["a0", "a1"]
    assert fake.state.calls("SubmitFeedback") == 2


def test_info_and_health(client, fake):
    info = client.info()
    assert info.dimension == DIMENSION and info.model_name == "fake-model"
    assert info.limits.max_client_batch_size == fake.state.limits.max_client_batch_size
    assert client.health() == "SERVING"
    fake.health.set("", 2)  # NOT_SERVING
    assert client.health() == "NOT_SERVING"


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda c: c.embed("one text"), TypeError),
        (lambda c: c.embed([1, 2]), TypeError),
        (lambda c: c.upsert(["a", "b"], ["x"]), ValueError),
        (lambda c: c.upsert(["a", "a"], ["x", "y"]), ValueError),
        (lambda c: c.upsert(["a"], ["x"], [{"n": 1}]), TypeError),
        (lambda c: c.upsert([""], ["x"]), ValueError),
        (lambda c: c.search("x", k=0), ValueError),
        (lambda c: c.search("x", filter={"k": 1}), TypeError),
        (lambda c: c.search(np.array([np.nan, 1.0])), ValueError),
        (lambda c: c.feedback_labeled("a", "b", True), TypeError),
        (lambda c: c.feedback_many([("a", "b")]), TypeError),
        (lambda c: c.embed(["x"], dimensions=0), ValueError),
    ],
)
def test_bad_arguments_fail_before_any_call(client, fake, call, error):
    with pytest.raises(error):
        call(client)
    assert not fake.state.requests


def test_text_longer_than_server_limit_names_index_and_limit(client, fake):
    fake.state.limits.max_input_chars = 5
    with pytest.raises(ValueError, match=r"texts\[1\].*limit is 5"):
        client.embed(["short", "much too long"])
    assert fake.state.calls("Embed") == 0
