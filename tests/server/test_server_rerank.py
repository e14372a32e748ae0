"""Rerank and Search's rerank_top_k on a real server with a tiny cross-encoder: the scores are
the model's (run here with torch and the Hugging Face tokenizer), sorted; bad input gets the
right status and a message naming the field and the limit; no cross-encoder is FAILED_PRECONDITION;
a cross-encoder trained by `embedtune train --cross-encoder` reranks a made-up list correctly."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import grpc
import numpy as np
import pytest
from tiny_models import TINY_CROSS_ENCODER_MAX_SEQ_LENGTH as MAX_SEQ_LENGTH
from tiny_models import CrossEncoderReference, build_tiny_cross_encoder, make_triplets

from embedtune_client import Client
from embedtune_client.cli import main as embedtune
from embedtune_client.v1 import embedtune_pb2 as pb
from embedtune_server.backend.tokenizer import PairTokenizer
from embedtune_server.launcher import ServerPool, free_port

LIMITS = {"max-rerank-candidates": 8, "max-rerank-chars": 300, "max-input-chars": 200, "max-search-k": 5}
DOCUMENTS = {
    "cat": "A cat is sleeping on the warm windowsill.",
    "dog": "The dog chased a ball across the park.",
    "bank": "The central bank raised interest rates again.",
    "cake": "Bake the chocolate cake for forty minutes.",
    "rain": "Heavy rain is expected across the region tomorrow. " * 4,
    "guitar": "She plays the guitar in a small jazz band.",
}
QUERY = "where is the cat sleeping"


@pytest.fixture(scope="module")
def reference(tiny_cross_encoder_source):
    return CrossEncoderReference(tiny_cross_encoder_source)


@pytest.fixture(scope="module")
def pool(tiny_model_dir, tmp_path_factory):
    pool = ServerPool(tiny_model_dir, lambda: tmp_path_factory.mktemp("home"))
    yield pool
    pool.close()


@pytest.fixture(scope="module")
def metrics_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def server(pool, tiny_cross_encoder_source, metrics_port):
    """Given the CrossEncoder folder without onnx/, the server has the trainer export it first."""
    flags = [part for name, value in LIMITS.items() for part in (f"--{name}", str(value))]
    flags += ["--metrics-port", str(metrics_port), "--http-port", "0"]
    return pool.start("--cross-encoder", str(tiny_cross_encoder_source), *flags)


@pytest.fixture(scope="module")
def stubs(server):
    channel = server.channel()
    embed, index, _ = server.stubs(channel)
    documents = [pb.Document(id=i, text=t) for i, t in DOCUMENTS.items()]
    index.Upsert(pb.UpsertRequest(documents=documents))
    yield embed, index
    channel.close()


def texts_of(ids: list[str]) -> list[str]:
    return [DOCUMENTS[i] for i in ids]


def test_pairs_tokenise_as_hugging_face_does(tiny_cross_encoder_source):
    import transformers

    hf = transformers.AutoTokenizer.from_pretrained(tiny_cross_encoder_source)
    ours = PairTokenizer.from_model_dir(tiny_cross_encoder_source, MAX_SEQ_LENGTH)
    long = "word " * 40
    pairs = [
        ("q", "short text"),
        (long, "short text"),
        ("short query", long),
        (long, long + "more"),
        ("東京 café", "🙂 naïve"),
    ]
    encoded = ours.encode(pairs)
    for (query, text), tokens in zip(pairs, encoded, strict=True):
        expected = hf(query, text, truncation=True, max_length=MAX_SEQ_LENGTH)
        assert tokens.ids.tolist() == expected["input_ids"], (query, text)
        assert tokens.type_ids.tolist() == expected["token_type_ids"], (query, text)


def test_rerank_by_text_gives_the_models_scores_sorted(stubs, reference):
    embed, _ = stubs
    ids = list(DOCUMENTS)
    candidates = [pb.TextRef(text=t) for t in texts_of(ids)]
    response = embed.Rerank(pb.RerankRequest(query=QUERY, candidates=candidates, return_text=True))
    expected = reference.scores(QUERY, texts_of(ids))
    assert sorted(r.index for r in response.results) == list(range(len(ids)))
    for result in response.results:
        assert result.score == pytest.approx(expected[result.index], abs=1e-5)
        assert result.text == DOCUMENTS[ids[result.index]] and result.id == ""
    scores = [r.score for r in response.results]
    assert scores == sorted(scores, reverse=True)
    assert response.cross_encoder_version.startswith("ce-source-")
    assert response.timings.inference_us > 0


def test_rerank_by_id_reads_the_stored_text_and_top_n_keeps_the_best(stubs, reference):
    embed, _ = stubs
    ids = ["guitar", "cat", "rain", "bank"]
    candidates = [pb.TextRef(document_id=i) for i in ids[:2]] + [
        pb.TextRef(text=t) for t in texts_of(ids[2:])
    ]
    response = embed.Rerank(pb.RerankRequest(query=QUERY, candidates=candidates, top_n=2))
    expected = reference.scores(QUERY, texts_of(ids))
    best = np.argsort(-expected, kind="stable")[:2].tolist()
    assert [r.index for r in response.results] == best
    assert [r.id for r in response.results] == [ids[i] if i < 2 else "" for i in best]
    assert [r.score for r in response.results] == pytest.approx(expected[best].tolist(), abs=1e-5)
    assert all(r.text == "" for r in response.results)  # return_text not set


def test_search_with_rerank_top_k_returns_the_cross_encoders_order(stubs, reference):
    _, index = stubs
    response = index.Search(pb.SearchRequest(text=QUERY, k=3, rerank_top_k=len(DOCUMENTS)))
    expected = reference.scores(QUERY, list(DOCUMENTS.values()))
    best = [list(DOCUMENTS)[i] for i in np.argsort(-expected, kind="stable")[:3]]
    assert [h.id for h in response.hits] == best
    by_id = dict(zip(DOCUMENTS, expected, strict=True))
    assert [h.score for h in response.hits] == pytest.approx([by_id[i] for i in best], abs=1e-5)
    plain = index.Search(pb.SearchRequest(text=QUERY, k=3))
    assert [h.score for h in plain.hits] != pytest.approx([h.score for h in response.hits], abs=1e-3)


def test_batch_search_reranks_only_the_queries_that_ask(stubs, reference):
    _, index = stubs
    queries = [
        pb.SearchRequest(text="rain tomorrow", k=2, rerank_top_k=len(DOCUMENTS)),
        pb.SearchRequest(text=QUERY, k=2),
    ]
    reranked, plain = index.BatchSearch(pb.BatchSearchRequest(queries=queries)).results
    expected = reference.scores("rain tomorrow", list(DOCUMENTS.values()))
    assert [h.id for h in reranked.hits] == [
        list(DOCUMENTS)[i] for i in np.argsort(-expected, kind="stable")[:2]
    ]
    alone = index.Search(pb.SearchRequest(text=QUERY, k=2))
    assert [(h.id, h.score) for h in plain.hits] == [(h.id, h.score) for h in alone.hits]


def test_the_server_exports_the_cross_encoder_and_info_names_it(server, stubs, tiny_cross_encoder_source):
    [exported] = (server.home / "cross-encoders").iterdir()
    assert (exported / "onnx" / "model_qint8.onnx").is_file()
    assert exported.name.startswith("ce-source-") and not (tiny_cross_encoder_source / "onnx").exists()
    info = stubs[0].Info(pb.InfoRequest())
    assert info.cross_encoder_version == exported.name
    assert info.cross_encoder_name == str(tiny_cross_encoder_source)
    assert info.cross_encoder_max_seq_length == MAX_SEQ_LENGTH
    assert not info.cross_encoder_quantized
    assert info.limits.max_rerank_candidates == 8 and info.limits.max_rerank_chars == 300


def test_metrics_count_the_pairs_scored(stubs, metrics_port):
    def pairs(rpc: str) -> float:
        with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics") as page:
            for line in page.read().decode().splitlines():
                if line.startswith(f'embedtune_rerank_pairs_total{{rpc="{rpc}"}}'):
                    return float(line.split()[-1])
        return 0.0

    before = pairs("Rerank")
    stubs[0].Rerank(pb.RerankRequest(query=QUERY, candidates=[pb.TextRef(text="a"), pb.TextRef(text="b")]))
    assert pairs("Rerank") == before + 2


INVALID = grpc.StatusCode.INVALID_ARGUMENT
TWO = [pb.TextRef(text="one"), pb.TextRef(text="two")]
CASES = {
    "empty query": ("Rerank", pb.RerankRequest(query="", candidates=TWO), INVALID, ["query", "empty"]),
    "blank query": ("Rerank", pb.RerankRequest(query="  ", candidates=TWO), INVALID, ["query", "empty"]),
    "query too long": (
        "Rerank",
        pb.RerankRequest(query="q" * 201, candidates=TWO),
        INVALID,
        ["query", "201 characters", "max_input_chars=200"],
    ),
    "no candidates": ("Rerank", pb.RerankRequest(query="q"), INVALID, ["candidates", "empty"]),
    "too many candidates": (
        "Rerank",
        pb.RerankRequest(query="q", candidates=TWO * 5),
        INVALID,
        ["candidates", "10 items", "max_rerank_candidates=8"],
    ),
    "candidate too long": (
        "Rerank",
        pb.RerankRequest(query="q", candidates=[*TWO, pb.TextRef(text="x" * 301)]),
        INVALID,
        ["candidates[2].text", "301 characters", "max_rerank_chars=300"],
    ),
    "candidate unset": (
        "Rerank",
        pb.RerankRequest(query="q", candidates=[*TWO, pb.TextRef()]),
        INVALID,
        ["candidates[2]", "text or document_id"],
    ),
    "empty id": (
        "Rerank",
        pb.RerankRequest(query="q", candidates=[pb.TextRef(document_id="")]),
        INVALID,
        ["candidates[0].document_id", "empty", "max_id_bytes=256"],
    ),
    "top_n 0": (
        "Rerank",
        pb.RerankRequest(query="q", candidates=TWO, top_n=0),
        INVALID,
        ["top_n: 0", "1..2"],
    ),
    "top_n past the candidates": (
        "Rerank",
        pb.RerankRequest(query="q", candidates=TWO, top_n=3),
        INVALID,
        ["top_n: 3", "1..2", "number of candidates"],
    ),
    "unknown id": (
        "Rerank",
        pb.RerankRequest(
            query="q", candidates=[pb.TextRef(document_id="cat"), pb.TextRef(document_id="nope")]
        ),
        grpc.StatusCode.NOT_FOUND,
        ["candidates", "'nope'"],
    ),
    "rerank_top_k below k": (
        "Search",
        pb.SearchRequest(text="q", k=3, rerank_top_k=2),
        INVALID,
        ["rerank_top_k: 2", "k..max_rerank_candidates", "3..8"],
    ),
    "rerank_top_k past the limit": (
        "Search",
        pb.SearchRequest(text="q", k=3, rerank_top_k=9),
        INVALID,
        ["rerank_top_k: 9", "3..8"],
    ),
    "rerank_top_k with a vector": (
        "Search",
        pb.SearchRequest(vector=pb.Embedding(values=[0.1] * 32), k=1, rerank_top_k=2),
        INVALID,
        ["rerank_top_k", "text query"],
    ),
    "batch rerank_top_k": (
        "BatchSearch",
        pb.BatchSearchRequest(
            queries=[pb.SearchRequest(text="q", k=1), pb.SearchRequest(text="q", k=1, rerank_top_k=99)]
        ),
        INVALID,
        ["queries[1].rerank_top_k: 99", "max_rerank_candidates"],
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_names_the_field_and_the_limit(stubs, case):
    method, request, code, fragments = CASES[case]
    stub = stubs[0] if method == "Rerank" else stubs[1]
    with pytest.raises(grpc.RpcError) as caught:
        getattr(stub, method)(request)
    assert caught.value.code() == code, caught.value.details()
    for fragment in fragments:
        assert fragment in caught.value.details(), (fragment, caught.value.details())


def _post(url: str, body: dict) -> tuple[int, dict, object]:
    """(status, headers, JSON body) of a POST, error statuses included."""
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read())


def test_rerank_over_http_is_teis_shape_with_the_grpc_scores(server, stubs):
    embed, _ = stubs
    texts = texts_of(list(DOCUMENTS))
    expected = embed.Rerank(
        pb.RerankRequest(query=QUERY, candidates=[pb.TextRef(text=t) for t in texts], top_n=3)
    )
    status, headers, body = _post(
        f"{server.http_url}/rerank", {"query": QUERY, "texts": texts, "return_text": True, "top_n": 3}
    )
    assert status == 200
    assert headers["x-model-version"] == expected.cross_encoder_version
    assert [r["index"] for r in body] == [r.index for r in expected.results]
    for result, want in zip(body, expected.results, strict=True):
        assert result["score"] == pytest.approx(want.score, abs=1e-6)
        assert result["text"] == texts[want.index]
    status, _, body = _post(f"{server.http_url}/rerank", {"query": QUERY, "texts": ["x"] * 9})
    assert status == 400
    assert "max_rerank_candidates=8" in body["error"]["message"]


def test_without_a_cross_encoder_reranking_is_a_failed_precondition_saying_how(pool):
    server = pool.start("--http-port", "0")
    status, _, body = _post(f"{server.http_url}/rerank", {"query": "q", "texts": ["a", "b"]})
    assert status == 409 and "--cross-encoder DIR" in body["error"]["message"]
    with server.channel() as channel:
        embed, index, _ = server.stubs(channel)
        index.Upsert(pb.UpsertRequest(documents=[pb.Document(id="d", text="a document")]))
        calls = [
            lambda: embed.Rerank(pb.RerankRequest(query="q", candidates=TWO)),
            lambda: index.Search(pb.SearchRequest(text="q", k=1, rerank_top_k=2)),
        ]
        for call in calls:
            with pytest.raises(grpc.RpcError) as caught:
                call()
            assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
            assert "--cross-encoder DIR" in caught.value.details()
        info = embed.Info(pb.InfoRequest())
        assert info.cross_encoder_version == "" and info.cross_encoder_max_seq_length == 0
        assert index.Search(pb.SearchRequest(text="q", k=1)).hits[0].id == "d"  # plain search is unaffected


def test_a_folder_that_is_not_a_cross_encoder_stops_the_server_with_one_line(pool, tiny_model_dir):
    with pytest.raises(RuntimeError) as caught:
        pool.start("--cross-encoder", str(tiny_model_dir))
    assert "--cross-encoder" in str(caught.value) and "embedtune.json" in str(caught.value)
    assert "Traceback" not in str(caught.value)


@pytest.mark.slow
def test_a_classifier_cross_encoder_stops_the_server_naming_num_labels(pool, tmp_path):
    """Reranking needs one score per pair: a three-class cross-encoder is refused at start, in one
    line that names the flag, the field and what is served."""
    from embedtune_trainer.export import export_model_folder

    source = build_tiny_cross_encoder(num_labels=3).save(tmp_path / "classifier")
    folder = tmp_path / "ce-classifier"
    export_model_folder(source, output=folder)
    with pytest.raises(RuntimeError) as caught:
        pool.start("--cross-encoder", str(folder))
    message = str(caught.value)
    assert f"--cross-encoder {folder}" in message and "Traceback" not in message
    assert "num_labels=3" in message and "num_labels=1" in message


def test_cross_encoder_quantize_scores_with_the_int8_graph(pool, tiny_cross_encoder_dir, reference):
    server = pool.start("--cross-encoder", str(tiny_cross_encoder_dir), "--cross-encoder-quantize")
    texts = list(DOCUMENTS.values())
    with server.channel() as channel:
        embed, _, _ = server.stubs(channel)
        assert embed.Info(pb.InfoRequest()).cross_encoder_quantized
        response = embed.Rerank(pb.RerankRequest(query=QUERY, candidates=[pb.TextRef(text=t) for t in texts]))
    served = np.array([r.score for r in sorted(response.results, key=lambda r: r.index)])
    fp32 = reference.scores(QUERY, texts)
    assert np.abs(served - fp32).max() > 1e-6  # not the fp32 graph
    assert np.abs(served - fp32).max() < 0.05  # the same model, int8


# Made up over tiny_models.TOPICS: (query, candidates, the one candidate of the query's topic).
# The answer sits at a different position in each list, so no position bias ranks them all.
MADE_UP_LISTS = [
    (
        "cat dog horse cow sheep",
        [
            "rain snow wind storm fog",
            "goat rabbit mouse dog cat",
            "bread cheese apple rice soup",
            "car truck bus train plane",
        ],
        1,
    ),
    (
        "car truck bus boat bike",
        [
            "train plane tram car bus",
            "cake salad pasta bread rice",
            "sun fog hail frost rain",
            "mouse goat cow horse cat",
        ],
        0,
    ),
    (
        "bread cheese soup cake salad",
        [
            "dog horse cow rabbit goat",
            "boat bike tram truck train",
            "frost storm wind snow sun",
            "apple rice pasta bread soup",
        ],
        3,
    ),
    (
        "rain snow storm sun hail",
        [
            "bike plane car boat tram",
            "sheep mouse rabbit cat horse",
            "fog frost wind rain storm",
            "salad cake cheese apple pasta",
        ],
        2,
    ),
]


@pytest.mark.slow
def test_rerank_orders_a_made_up_list_after_a_short_training_run(pool, tmp_path, one_torch_thread):
    """`embedtune train --cross-encoder` on topic triplets, then a real server on its output: Rerank puts
    each query's same-topic candidate first, with the trained model's scores; untrained, it does not."""
    from embedtune_trainer.cross_encoder import CrossEncoder

    def firsts(model: CrossEncoder) -> list[int]:
        return [int(np.argmax(model.predict([(q, t) for t in texts]))) for q, texts, _ in MADE_UP_LISTS]

    answers = [answer for _, _, answer in MADE_UP_LISTS]
    # Five-word texts give the tiny model enough evidence per pair to learn in a few hundred steps.
    base = build_tiny_cross_encoder(seed=0, dropout=0.0, max_seq_length=16).save(tmp_path / "untrained")
    before = firsts(CrossEncoder.load(base))
    assert sum(f == a for f, a in zip(before, answers, strict=True)) <= 1  # chance: one list in four

    data = tmp_path / "triplets.jsonl"
    data.write_text("".join(json.dumps(row) + "\n" for row in make_triplets(400, seed=1, words=5)))
    output = tmp_path / "ce-topics"
    argv = ["train", "--cross-encoder", "--base", str(base), "--data", str(data), "--output", str(output)]
    argv += ["--epochs", "8", "--batch-size", "32", "--lr", "1e-3", "--warmup-ratio", "0"]
    assert embedtune(argv) == 0
    trained = CrossEncoder.load(output)

    server = pool.start("--cross-encoder", str(output))
    with Client(server.address) as client:
        for query, texts, answer in MADE_UP_LISTS:
            results = client.rerank(query, texts)
            assert results[0].index == answer, (query, [texts[r.index] for r in results])
            served = [r.score for r in sorted(results, key=lambda r: r.index)]
            assert served == pytest.approx(trained.predict([(query, t) for t in texts]).tolist(), abs=1e-5)
            assert results.cross_encoder_version == "ce-topics"
