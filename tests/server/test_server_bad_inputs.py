# ruff: noqa: E501  (the table of cases reads best one case per line)
"""Every bad request gets the right status and a message naming the field and the limit;
the server keeps serving after each. The server runs the int8 model with small limits."""

from __future__ import annotations

import grpc
import numpy as np
import pytest

from embedtune_client.v1 import embedtune_pb2 as pb

LIMITS = {
    "max-client-batch-size": 4,
    "max-input-chars": 1000,
    "max-document-chars": 3000,
    "max-search-k": 20,
    "max-metadata-entries": 2,
    "max-metadata-bytes": 40,
    "max-feedback-items": 3,
    "max-id-bytes": 16,
    "max-concurrent-requests": 2,
}


@pytest.fixture(scope="module")
def server(launch):
    flags = [part for name, value in LIMITS.items() for part in (f"--{name}", str(value))]
    return launch("--quantize", *flags)


@pytest.fixture(scope="module")
def stubs(server):
    channel = server.channel()
    embed, index, feedback = server.stubs(channel)
    index.Upsert(
        pb.UpsertRequest(documents=[pb.Document(id="d1", text="first"), pb.Document(id="d2", text="second")])
    )
    yield {"embed": embed, "index": index, "feedback": feedback}
    channel.close()


def ref(text=None, document_id=None) -> pb.TextRef:
    return pb.TextRef(text=text) if text is not None else pb.TextRef(document_id=document_id)


INVALID = grpc.StatusCode.INVALID_ARGUMENT
CASES = {
    "empty inputs": ("embed", "Embed", pb.EmbedRequest(), INVALID, ["inputs", "empty"]),
    "text too long": (
        "embed", "Embed", pb.EmbedRequest(inputs=["ok", "x" * 1001]), INVALID,
        ["inputs[1]", "1001 characters", "max_input_chars=1000"],
    ),
    "too many tokens, truncate off": (
        "embed", "Embed", pb.EmbedRequest(inputs=["fine", "a " * 299], truncate=False), INVALID,
        ["inputs[1]", "301 tokens", "max_seq_length=256"],
    ),
    "batch too big": (
        "embed", "Embed", pb.EmbedRequest(inputs=["a"] * 5), INVALID, ["inputs", "5 items", "max_client_batch_size=4"]
    ),
    "dimensions 0": ("embed", "Embed", pb.EmbedRequest(inputs=["a"], dimensions=0), INVALID, ["dimensions", "1..384"]),
    "dimensions too big": (
        "embed", "Embed", pb.EmbedRequest(inputs=["a"], dimensions=385), INVALID, ["dimensions: 385", "1..384"]
    ),
    "k 0": ("index", "Search", pb.SearchRequest(text="q", k=0), INVALID, ["k: 0", "max_search_k=20"]),
    "k too big": ("index", "Search", pb.SearchRequest(text="q", k=21), INVALID, ["k: 21", "max_search_k=20"]),
    "no query": ("index", "Search", pb.SearchRequest(k=3), INVALID, ["query", "text or vector"]),
    "vector of wrong size": (
        "index", "Search", pb.SearchRequest(vector=pb.Embedding(values=[0.1] * 10), k=3), INVALID, ["vector", "384"]
    ),
    "batch search k": (
        "index", "BatchSearch",
        pb.BatchSearchRequest(queries=[pb.SearchRequest(text="q", k=1), pb.SearchRequest(text="q", k=99)]),
        INVALID, ["queries[1].k: 99", "max_search_k=20"],
    ),
    "unknown ids on get": (
        "index", "Get", pb.GetRequest(ids=["d1", "nope", "gone"]), grpc.StatusCode.NOT_FOUND, ["'nope'", "'gone'"]
    ),
    "unknown ids on delete": ("index", "Delete", pb.DeleteRequest(ids=["nope"]), grpc.StatusCode.NOT_FOUND, ["'nope'"]),
    "duplicate ids": (
        "index", "Upsert",
        pb.UpsertRequest(documents=[pb.Document(id="a", text="x"), pb.Document(id="a", text="y")]),
        INVALID, ["documents[1].id", "repeats documents[0].id"],
    ),
    "id too long": (
        "index", "Upsert", pb.UpsertRequest(documents=[pb.Document(id="i" * 17, text="x")]), INVALID,
        ["documents[0].id", "17 bytes", "max_id_bytes=16"],
    ),
    "too many metadata entries": (
        "index", "Upsert",
        pb.UpsertRequest(documents=[pb.Document(id="a", text="x", metadata={"a": "1", "b": "2", "c": "3"})]),
        INVALID, ["documents[0].metadata", "3 entries", "max_metadata_entries=2"],
    ),
    "metadata too big": (
        "index", "Upsert", pb.UpsertRequest(documents=[pb.Document(id="a", text="x", metadata={"k": "v" * 40})]),
        INVALID, ["documents[0].metadata", "41 bytes", "max_metadata_bytes=40"],
    ),
    "document text too long": (
        "index", "Upsert", pb.UpsertRequest(documents=[pb.Document(id="a", text="x" * 3001)]), INVALID,
        ["documents[0].text", "3001 characters", "max_document_chars=3000"],
    ),
    "no feedback items": ("feedback", "SubmitFeedback", pb.SubmitFeedbackRequest(), INVALID, ["items", "empty"]),
    "too many feedback items": (
        "feedback", "SubmitFeedback",
        pb.SubmitFeedbackRequest(items=[pb.FeedbackItem(labeled_text=pb.LabeledText(text=ref("t"), label=1))] * 4),
        INVALID, ["items", "4 items", "max_feedback_items=3"],
    ),
    "triplet missing negative": (
        "feedback", "SubmitFeedback",
        pb.SubmitFeedbackRequest(items=[pb.FeedbackItem(triplet=pb.Triplet(anchor=ref("q"), positive=ref("p")))]),
        INVALID, ["items[0].triplet.negative", "missing"],
    ),
    "positive equals negative": (
        "feedback", "SubmitFeedback",
        pb.SubmitFeedbackRequest(
            items=[
                pb.FeedbackItem(pair=pb.PositivePair(anchor=ref("q"), positive=ref("p"))),
                pb.FeedbackItem(triplet=pb.Triplet(anchor=ref("q"), positive=ref("p"), negative=ref("p"))),
            ]
        ),
        INVALID, ["items[1].triplet", "positive and negative are the same"],
    ),
    "labeled pair without label": (
        "feedback", "SubmitFeedback",
        pb.SubmitFeedbackRequest(items=[pb.FeedbackItem(labeled_pair=pb.LabeledPair(text1=ref("a"), text2=ref("b")))]),
        INVALID, ["items[0].labeled_pair.label", "missing"],
    ),
    "NaN in a query vector": (
        "index", "Search", pb.SearchRequest(vector=pb.Embedding(values=[0.1] * 200 + [float("nan")] + [0.1] * 183), k=3),
        INVALID, ["vector[200]", "nan is not finite"],
    ),
    "infinity in a batch query vector": (
        "index", "BatchSearch",
        pb.BatchSearchRequest(queries=[pb.SearchRequest(vector=pb.Embedding(values=[float("-inf")] + [0.1] * 383), k=3)]),
        INVALID, ["queries[0].vector[0]", "-inf is not finite"],
    ),
    "all-zero query vector": (
        "index", "Search", pb.SearchRequest(vector=pb.Embedding(values=[0.0] * 384), k=3), INVALID,
        ["vector", "all 384 values are zero"],
    ),
    "empty id on upsert": (
        "index", "Upsert", pb.UpsertRequest(documents=[pb.Document(id="a", text="x"), pb.Document(id="", text="y")]),
        INVALID, ["documents[1].id", "empty", "max_id_bytes=16"],
    ),
    "empty id on get": ("index", "Get", pb.GetRequest(ids=["d1", ""]), INVALID, ["ids[1]", "empty", "max_id_bytes=16"]),
    "empty metadata key": (
        "index", "Upsert", pb.UpsertRequest(documents=[pb.Document(id="a", text="x", metadata={"": "v"})]),
        INVALID, ["documents[0].metadata", "empty key"],
    ),
    "empty filter key": (
        "index", "Search", pb.SearchRequest(text="q", k=3, filter={"": "v"}), INVALID, ["filter", "empty key"]
    ),
    "filter over the entry limit": (
        "index", "Search", pb.SearchRequest(text="q", k=3, filter={"a": "1", "b": "2", "c": "3"}), INVALID,
        ["filter", "3 entries", "max_metadata_entries=2"],
    ),
    "batch filter over the entry limit": (
        "index", "BatchSearch",
        pb.BatchSearchRequest(queries=[pb.SearchRequest(text="q", k=3), pb.SearchRequest(text="q", k=3, filter={"a": "1", "b": "2", "c": "3"})]),
        INVALID, ["queries[1].filter", "3 entries", "max_metadata_entries=2"],
    ),
    "unknown truncation direction": (
        "embed", "Embed", pb.EmbedRequest(inputs=["a"], truncation_direction=7), INVALID,
        ["truncation_direction", "unknown value 7", "TRUNCATION_DIRECTION_RIGHT=1", "TRUNCATION_DIRECTION_LEFT=2"],
    ),
    "empty feedback item": (
        "feedback", "SubmitFeedback", pb.SubmitFeedbackRequest(items=[pb.FeedbackItem()]), INVALID,
        ["items[0]", "empty", "triplet, pair, labeled_pair or labeled_text"],
    ),
    "empty feedback text": (
        "feedback", "SubmitFeedback",
        pb.SubmitFeedbackRequest(items=[pb.FeedbackItem(pair=pb.PositivePair(anchor=ref(""), positive=ref("p")))]),
        INVALID, ["items[0].pair.anchor.text", "empty", "max_input_chars=1000"],
    ),
    "blank feedback text": (
        "feedback", "SubmitFeedback",
        pb.SubmitFeedbackRequest(items=[pb.FeedbackItem(labeled_text=pb.LabeledText(text=ref(" \n "), label=1))]),
        INVALID, ["items[0].labeled_text.text.text", "empty or blank", "max_input_chars=1000"],
    ),
    "non-finite score": (
        "feedback", "SubmitFeedback",
        pb.SubmitFeedbackRequest(items=[pb.FeedbackItem(labeled_pair=pb.LabeledPair(text1=ref("a"), text2=ref("b"), score=float("inf")))]),
        INVALID, ["items[0].labeled_pair.score", "inf is not finite"],
    ),
    "feedback on unknown document": (
        "feedback", "SubmitFeedback",
        pb.SubmitFeedbackRequest(
            items=[pb.FeedbackItem(pair=pb.PositivePair(anchor=ref("q"), positive=ref(document_id="missing")))]
        ),
        grpc.StatusCode.NOT_FOUND, ["document_id", "'missing'"],
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", list(CASES))
def test_bad_request_is_refused_with_a_precise_message(stubs, case):
    service, method, request, code, fragments = CASES[case]
    with pytest.raises(grpc.RpcError) as raised:
        getattr(stubs[service], method)(request)
    assert raised.value.code() == code, raised.value.details()
    for fragment in fragments:
        assert fragment in raised.value.details()
    assert len(stubs["embed"].Embed(pb.EmbedRequest(inputs=["still serving"])).embeddings) == 1


def test_refused_writes_change_nothing(stubs):
    count = stubs["index"].Count(pb.CountRequest()).count
    with pytest.raises(grpc.RpcError):
        stubs["index"].Delete(pb.DeleteRequest(ids=["d1", "nope"]))
    assert stubs["index"].Count(pb.CountRequest()).count == count
    assert stubs["index"].Get(pb.GetRequest(ids=["d1"])).documents[0].text == "first"


def test_flood_beyond_max_concurrent_requests_fails_fast_then_recovers(stubs):
    embed = stubs["embed"]
    request = pb.EmbedRequest(inputs=["a flood of requests " * 20] * 4)
    futures = [embed.Embed.future(request) for _ in range(40)]
    codes = []
    for future in futures:
        try:
            future.result(timeout=120)
            codes.append(grpc.StatusCode.OK)
        except grpc.RpcError as error:
            codes.append(error.code())
            if error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED:
                assert "max_concurrent_requests=2" in error.details()
    assert codes.count(grpc.StatusCode.RESOURCE_EXHAUSTED) > 0
    assert codes.count(grpc.StatusCode.OK) > 0
    assert set(codes) <= {grpc.StatusCode.OK, grpc.StatusCode.RESOURCE_EXHAUSTED}
    assert len(embed.Embed(pb.EmbedRequest(inputs=["after the flood"])).embeddings) == 1


def test_cancelled_requests_do_not_break_the_server(stubs):
    """The server answers after client cancels. That cancelled inputs are dropped before
    inference is checked deterministically in test_server_batching.py, where a gated
    backend holds them in the queue; here a cancel may arrive before or after inference."""
    embed = stubs["embed"]
    futures = [embed.Embed.future(pb.EmbedRequest(inputs=["cancel me " * 50] * 4)) for _ in range(2)]
    for future in futures:
        future.cancel()
    assert len(embed.Embed(pb.EmbedRequest(inputs=["after cancels"])).embeddings) == 1


def test_int8_model_is_served_and_close_to_fp32(stubs, onnx_model_dir):
    """The served vectors are the int8 graph's, not the fp32 graph's, and still close to fp32."""
    from embedtune_server.backend import OnnxBackend

    info = stubs["embed"].Info(pb.InfoRequest())
    assert info.quantized
    assert info.limits.max_concurrent_requests == 2 and info.limits.max_metadata_bytes == 40
    texts = ["A man is playing a guitar.", "The stock market fell sharply."]
    # one text per request and per in-process call: int8 activations are quantized per batch
    served = np.array([stubs["embed"].Embed(pb.EmbedRequest(inputs=[t])).embeddings[0].values for t in texts])
    int8, fp32 = (
        np.concatenate([backend.encode([t]) for t in texts])
        for backend in (OnnxBackend(onnx_model_dir, quantized=q) for q in (True, False))
    )
    # the same graph on the same CPU differs by float rounding only (< 1e-5); int8 moves
    # the bundled model's values by about 1.5e-2 from fp32, so 1e-3 tells the graphs apart
    assert np.abs(served - int8).max() < 1e-5
    assert np.abs(served - fp32).max() > 1e-3
    assert ((served * fp32).sum(1)).min() > 0.95


def test_a_document_longer_than_an_embed_input_is_stored_whole_and_embedded_by_what_the_model_reads(stubs):
    document = "x " * 1400  # 2800 characters: over max_input_chars, within max_document_chars
    stubs["index"].Upsert(pb.UpsertRequest(documents=[pb.Document(id="long", text=document)]))
    assert stubs["index"].Get(pb.GetRequest(ids=["long"])).documents[0].text == document
    # 300 tokens of the same word: truncated to the same first max_seq_length tokens as the document
    hit = stubs["index"].Search(pb.SearchRequest(text="x " * 300, k=1)).hits[0]
    assert hit.id == "long" and hit.score == pytest.approx(1.0, abs=1e-5)
    stubs["index"].Delete(pb.DeleteRequest(ids=["long"]))


def _utf8_broken(request, marker: bytes) -> bytes:
    """`request`'s bytes with `marker` (inside a string field) replaced by bytes that are not UTF-8."""
    return request.SerializeToString().replace(marker, b"\xff\xfe\xfd")


# (method, request bytes, what the status must say)
MALFORMED = {
    "broken wire format": ("/embedtune.v1.EmbedService/Embed", b"\xff\xff\xff", "malformed request"),
    "text not UTF-8": (
        "/embedtune.v1.EmbedService/Embed", _utf8_broken(pb.EmbedRequest(inputs=["@@@"]), b"@@@"), "utf-8",
    ),
    "document id not UTF-8": (
        "/embedtune.v1.IndexService/Upsert",
        _utf8_broken(pb.UpsertRequest(documents=[pb.Document(id="@@@", text="t")]), b"@@@"), "utf-8",
    ),
}  # fmt: skip


def test_malformed_requests_are_invalid_argument_and_log_one_warning_each(server, stubs):
    count = stubs["index"].Count(pb.CountRequest()).count
    logged = len(server.log_text())
    with grpc.insecure_channel(server.address) as channel:
        for case, (method, data, fragment) in MALFORMED.items():
            call = channel.unary_unary(method, request_serializer=lambda b: b, response_deserializer=bytes)
            with pytest.raises(grpc.RpcError) as raised:
                call(data, timeout=30)
            assert raised.value.code() == INVALID, (case, raised.value.details())
            assert "malformed request" in raised.value.details()
            assert fragment in raised.value.details().lower(), case
        stream = channel.stream_stream(
            "/embedtune.v1.EmbedService/EmbedStream",
            request_serializer=lambda b: b,
            response_deserializer=pb.EmbedResponse.FromString,
        )
        good = pb.EmbedRequest(inputs=["fine"]).SerializeToString()
        with pytest.raises(grpc.RpcError) as raised:
            list(stream(iter([good, MALFORMED["text not UTF-8"][1]]), timeout=30))
        assert raised.value.code() == INVALID and "utf-8" in raised.value.details().lower()
    log = server.log_text()[logged:]
    assert "Traceback" not in log and " ERROR " not in log, log
    assert log.count("refused a malformed request") == len(MALFORMED) + 1
    assert stubs["index"].Count(pb.CountRequest()).count == count
    assert len(stubs["embed"].Embed(pb.EmbedRequest(inputs=["still serving"])).embeddings) == 1


def test_a_huge_finite_query_vector_searches_by_its_direction(stubs):
    """A query of values near 3e38 (its float32 norm overflows) finds what its unit version finds."""
    embedded = stubs["embed"].Embed(pb.EmbedRequest(inputs=["first"])).embeddings[0].values

    def search(vector: np.ndarray) -> list[tuple[str, float]]:
        hits = stubs["index"].Search(pb.SearchRequest(vector=pb.Embedding(values=vector.tolist()), k=2)).hits
        return [(h.id, h.score) for h in hits]

    for direction in (np.array(embedded, dtype=np.float32), np.ones(len(embedded), dtype=np.float32)):
        huge = direction / np.abs(direction).max() * np.float32(3e38)
        with np.errstate(over="ignore"):
            assert np.isinf(np.linalg.norm(huge))
        found, expected = search(huge), search(direction)
        assert [i for i, _ in found] == [i for i, _ in expected]
        assert [s for _, s in found] == pytest.approx([s for _, s in expected], abs=1e-5)
    assert search(np.array(embedded, dtype=np.float32) * np.float32(3e38))[0][0] == "d1"
