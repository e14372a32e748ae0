"""One real server: embeddings match the encoders, search finds paraphrases, writes apply."""

from __future__ import annotations

import numpy as np
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from embedtune_client.v1 import embedtune_pb2 as pb
from embedtune_server.backend import OnnxBackend

CORPUS = {
    "cat": ("A cat is sleeping on the warm windowsill.", {"kind": "animal"}),
    "dog": ("The dog chased a ball across the park.", {"kind": "animal"}),
    "bank": ("The central bank raised interest rates again.", {"kind": "finance"}),
    "stocks": ("Share prices dropped sharply on the stock exchange.", {"kind": "finance"}),
    "cake": ("Bake the chocolate cake for forty minutes.", {"kind": "food"}),
    "soup": ("This tomato soup recipe needs fresh basil.", {"kind": "food"}),
    "rain": ("Heavy rain is expected across the region tomorrow.", {"kind": "weather"}),
    "guitar": ("She plays the guitar in a small jazz band.", {"kind": "music"}),
}
PARAPHRASES = {
    "a kitten naps in the sun by the window": "cat",
    "the puppy ran after the ball in the park": "dog",
    "borrowing costs go up after the monetary authority decision": "bank",
    "stock market prices fell": "stocks",
    "how long should a chocolate cake be baked": "cake",
    "forecast: lots of rainfall tomorrow": "rain",
    "a musician playing jazz on a guitar": "guitar",
}


@pytest.fixture(scope="module")
def server(launch):
    return launch("--max-search-k", "50")


@pytest.fixture(scope="module")
def stubs(server):
    channel = server.channel()
    yield server.stubs(channel)
    channel.close()


@pytest.fixture(scope="module")
def indexed(stubs):
    _, index, _ = stubs
    documents = [pb.Document(id=i, text=t, metadata=m) for i, (t, m) in CORPUS.items()]
    assert index.Upsert(pb.UpsertRequest(documents=documents)).upserted == len(CORPUS)
    return index


def embed(stub, texts, **options) -> np.ndarray:
    response = stub.Embed(pb.EmbedRequest(inputs=texts, **options))
    return np.array([e.values for e in response.embeddings], dtype=np.float32)


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


@pytest.mark.slow
def test_embeddings_equal_the_onnx_backend_and_the_torch_encoders(
    stubs, onnx_model_dir, varied_sentences, torch_embeddings, st_reference
):
    chosen = [*range(40), *range(-4, 0)]  # short, empty, non-ASCII, and past 256 tokens
    texts = [varied_sentences[i] for i in chosen]
    served = np.concatenate([embed(stubs[0], texts[i : i + 16]) for i in range(0, len(texts), 16)])
    assert served.shape == (len(texts), 384)
    assert cosines(served, OnnxBackend(onnx_model_dir).encode(texts)).min() >= 0.9999
    assert cosines(served, torch_embeddings[chosen]).min() >= 0.9999  # the trainer's torch encoder
    assert cosines(served, st_reference.encode(texts, convert_to_numpy=True)).min() >= 0.9999


def test_response_names_version_counts_tokens_and_times_stages(stubs, server):
    response = stubs[0].Embed(pb.EmbedRequest(inputs=["hello world", "word " * 600]))
    assert response.model_version == "v-test"
    assert list(response.token_counts) == [4, 256]
    assert response.timings.inference_us > 0 and response.timings.tokenize_us > 0


def test_dimensions_and_normalize(stubs):
    full = embed(stubs[0], ["A man is playing a guitar."])
    short = embed(stubs[0], ["A man is playing a guitar."], dimensions=64, normalize=True)
    assert short.shape == (1, 64)
    assert np.linalg.norm(short) == pytest.approx(1.0, abs=1e-5)
    np.testing.assert_allclose(short[0], full[0, :64] / np.linalg.norm(full[0, :64]), atol=1e-5)
    raw = embed(stubs[0], ["A man is playing a guitar."], dimensions=64)
    np.testing.assert_allclose(raw[0], full[0, :64], atol=1e-6)


def test_truncation_direction_keeps_the_chosen_end(stubs):
    text = "cats and kittens " * 100 + "the stock market crashed today"
    right = embed(stubs[0], [text])
    left = embed(stubs[0], [text], truncation_direction=pb.TRUNCATION_DIRECTION_LEFT)
    tail = embed(stubs[0], ["the stock market crashed today"])
    assert cosines(left, tail)[0] > cosines(right, tail)[0] + 0.1


def test_search_finds_the_document_a_paraphrase_means(indexed):
    for query, expected in PARAPHRASES.items():
        response = indexed.Search(pb.SearchRequest(text=query, k=3))
        assert response.hits[0].id == expected, (query, [h.id for h in response.hits])
        assert response.hits[0].text == CORPUS[expected][0]
        assert response.model_version == "v-test"
        assert [h.score for h in response.hits] == sorted((h.score for h in response.hits), reverse=True)


def test_search_by_vector_equals_search_by_text(stubs, indexed):
    query = "stock market prices fell"
    vector = embed(stubs[0], [query])[0]
    by_text = indexed.Search(pb.SearchRequest(text=query, k=4))
    by_vector = indexed.Search(pb.SearchRequest(vector=pb.Embedding(values=vector), k=4))
    assert [h.id for h in by_text.hits] == [h.id for h in by_vector.hits]


def test_filter_returns_only_matches_and_k_of_them(indexed):
    response = indexed.Search(
        pb.SearchRequest(text="a kitten naps in the sun", k=2, filter={"kind": "finance"})
    )
    assert sorted(h.id for h in response.hits) == ["bank", "stocks"]
    assert all(h.metadata["kind"] == "finance" for h in response.hits)
    none = indexed.Search(pb.SearchRequest(text="cats", k=2, filter={"kind": "finance", "x": "y"}))
    assert len(none.hits) == 0


def test_batch_search_answers_each_query_in_order(indexed):
    queries = list(PARAPHRASES)[:4]
    response = indexed.BatchSearch(
        pb.BatchSearchRequest(queries=[pb.SearchRequest(text=q, k=1) for q in queries])
    )
    assert [r.hits[0].id for r in response.results] == [PARAPHRASES[q] for q in queries]
    assert response.model_version == "v-test"


def test_batch_search_mixing_k_filters_and_vectors_answers_as_single_searches(stubs, indexed):
    """Queries are grouped by k and filter inside the server; each must still get its own answer."""
    texts = list(PARAPHRASES)
    vector = pb.Embedding(values=embed(stubs[0], [texts[0]])[0])
    queries = [
        pb.SearchRequest(text=texts[0], k=3),
        pb.SearchRequest(text=texts[1], k=1, filter={"kind": "finance"}),
        pb.SearchRequest(vector=vector, k=3),
        pb.SearchRequest(text=texts[2], k=1),
        pb.SearchRequest(text=texts[3], k=3),
        pb.SearchRequest(text=texts[0], k=2, filter={"kind": "finance"}),
        pb.SearchRequest(text=texts[1], k=3),
    ]
    batched = indexed.BatchSearch(pb.BatchSearchRequest(queries=queries)).results
    singles = [indexed.Search(q) for q in queries]
    assert [[h.id for h in r.hits] for r in batched] == [[h.id for h in r.hits] for r in singles]
    for one, alone in zip(batched, singles, strict=True):
        # the same vectors searched in the same index; batching the queries may change float rounding
        np.testing.assert_allclose([h.score for h in one.hits], [h.score for h in alone.hits], atol=1e-4)


def test_upsert_replaces_and_delete_removes(indexed):
    indexed.Upsert(pb.UpsertRequest(documents=[pb.Document(id="tmp", text="Volcanoes erupt molten lava.")]))
    assert indexed.Search(pb.SearchRequest(text="lava from a volcano", k=1)).hits[0].id == "tmp"
    indexed.Upsert(
        pb.UpsertRequest(
            documents=[pb.Document(id="tmp", text="Penguins live in Antarctica.", metadata={"v": "2"})]
        )
    )
    assert indexed.Get(pb.GetRequest(ids=["tmp"])).documents[0].metadata["v"] == "2"
    assert indexed.Search(pb.SearchRequest(text="lava from a volcano", k=1)).hits[0].id != "tmp"
    assert indexed.Search(pb.SearchRequest(text="penguins in the antarctic", k=1)).hits[0].id == "tmp"
    count = indexed.Count(pb.CountRequest()).count
    assert indexed.Delete(pb.DeleteRequest(ids=["tmp"])).deleted == 1
    assert indexed.Count(pb.CountRequest()).count == count - 1
    hits = indexed.Search(pb.SearchRequest(text="penguins in the antarctic", k=50)).hits
    assert "tmp" not in [h.id for h in hits]
    assert indexed.Delete(pb.DeleteRequest(ids=["tmp"], ignore_missing=True)).deleted == 0


def test_get_returns_documents_in_request_order(indexed):
    documents = indexed.Get(pb.GetRequest(ids=["soup", "cat"])).documents
    assert [(d.id, d.text, dict(d.metadata)) for d in documents] == [
        ("soup", CORPUS["soup"][0], CORPUS["soup"][1]),
        ("cat", CORPUS["cat"][0], CORPUS["cat"][1]),
    ]


def test_embed_stream_answers_every_request_in_order(stubs):
    """Each stream response is the unary Embed of its own request, in request order."""
    sizes = np.random.default_rng(7).integers(1, 6, size=20)
    requests = [
        pb.EmbedRequest(inputs=[f"sentence {i} part {j}" for j in range(n)]) for i, n in enumerate(sizes)
    ]
    responses = list(stubs[0].EmbedStream(iter(requests)))
    assert len(responses) == len(requests)
    for request, response in zip(requests, responses, strict=True):
        streamed = np.array([e.values for e in response.embeddings], dtype=np.float32)
        # fp32, batched with other inputs or alone: padding changes values by float rounding only
        np.testing.assert_allclose(streamed, embed(stubs[0], list(request.inputs)), atol=1e-5)


def test_info_reports_model_limits_and_index(stubs, indexed):
    info = stubs[0].Info(pb.InfoRequest())
    assert (info.model_version, info.dimension, info.max_seq_length) == ("v-test", 384, 256)
    assert info.normalized and not info.quantized and not info.auth_required
    assert info.limits.max_search_k == 50 and info.limits.max_client_batch_size == 128
    assert info.index_type == "Flat"
    assert info.index_size == indexed.Count(pb.CountRequest()).count


def test_health_reports_serving(server):
    with server.channel() as channel:
        health = health_pb2_grpc.HealthStub(channel)
        for service in ("", "embedtune.v1.EmbedService", "embedtune.v1.IndexService"):
            status = health.Check(health_pb2.HealthCheckRequest(service=service)).status
            assert status == health_pb2.HealthCheckResponse.SERVING


def test_reflection_lists_the_services(server):
    with server.channel() as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        request = reflection_pb2.ServerReflectionRequest(list_services="")
        [response] = list(stub.ServerReflectionInfo(iter([request])))
        names = {s.name for s in response.list_services_response.service}
    assert {"embedtune.v1.EmbedService", "embedtune.v1.IndexService", "embedtune.v1.FeedbackService"} <= names
    assert "grpc.health.v1.Health" in names
