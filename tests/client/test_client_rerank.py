"""`rerank`, `search(rerank_top_k=)` and `embedtune rerank` against a real server with a tiny
cross-encoder, sync and async. The server takes 3 candidates a call, so a longer list is
split into chunks that the client joins back into one best-first list."""

from __future__ import annotations

import argparse
import asyncio
import json

import numpy as np
import pytest
from tiny_models import CrossEncoderReference

from embedtune_client import AsyncClient, Client, DocumentRef, RerankResult
from embedtune_client.cli import commands

launcher = pytest.importorskip("embedtune_server.launcher", reason="the server is not installed")

CHUNK = 3
DOCUMENTS = {
    "cat": "A cat is sleeping on the warm windowsill.",
    "dog": "The dog chased a ball across the park.",
    "bank": "The central bank raised interest rates again.",
    "cake": "Bake the chocolate cake for forty minutes.",
    "rain": "Heavy rain is expected across the region tomorrow.",
    "guitar": "She plays the guitar in a small jazz band.",
    "soup": "This tomato soup recipe needs fresh basil.",
}
QUERY = "a pet asleep by the window"


@pytest.fixture(scope="module")
def target(tiny_model_dir, tiny_cross_encoder_dir, tmp_path_factory):
    pool = launcher.ServerPool(tiny_model_dir, lambda: tmp_path_factory.mktemp("home"))
    server = pool.start("--cross-encoder", str(tiny_cross_encoder_dir), "--max-rerank-candidates", str(CHUNK))
    with Client(server.address) as client:
        client.upsert(list(DOCUMENTS), list(DOCUMENTS.values()))
    yield server.address
    pool.close()


@pytest.fixture(scope="module")
def expected(tiny_cross_encoder_dir) -> np.ndarray:
    """The cross-encoder's score of (QUERY, each document), computed here with torch."""
    return CrossEncoderReference(tiny_cross_encoder_dir).scores(QUERY, list(DOCUMENTS.values()))


def best_first(scores: np.ndarray) -> list[int]:
    return np.argsort(-scores, kind="stable").tolist()


def test_rerank_joins_chunks_into_one_best_first_list(target, expected):
    with Client(target) as client:
        results = client.rerank(QUERY, list(DOCUMENTS.values()))
    assert len(DOCUMENTS) > CHUNK  # three calls' worth
    assert [r.index for r in results] == best_first(expected)
    assert [r.score for r in results] == pytest.approx(expected[best_first(expected)].tolist(), abs=1e-5)
    assert all(isinstance(r, RerankResult) and r.id == "" and r.text == "" for r in results)
    assert results.cross_encoder_version == "ce-tiny"
    assert results.timings.inference_us > 0


def test_rerank_by_document_ref_with_text_and_top_n(target, expected):
    ids = list(DOCUMENTS)
    with Client(target) as client:
        results = client.rerank(QUERY, [DocumentRef(i) for i in ids], top_n=2, return_text=True)
    best = best_first(expected)[:2]
    assert [(r.index, r.id, r.text) for r in results] == [(i, ids[i], DOCUMENTS[ids[i]]) for i in best]


def test_async_rerank_and_search_give_what_sync_gives(target):
    async def run():
        async with AsyncClient(target) as client:
            return (
                await client.rerank(QUERY, list(DOCUMENTS.values()), top_n=4),
                await client.search(QUERY, k=2, rerank_top_k=CHUNK),
                await client.info(),
            )

    reranked, hits, info = asyncio.run(run())
    with Client(target) as client:
        assert reranked == client.rerank(QUERY, list(DOCUMENTS.values()), top_n=4)
        assert hits == client.search(QUERY, k=2, rerank_top_k=CHUNK)
    assert info.cross_encoder_version == "ce-tiny" and info.limits.max_rerank_candidates == CHUNK


def test_search_with_rerank_top_k_orders_the_found_documents_by_the_cross_encoder(target, expected):
    ids = list(DOCUMENTS)
    with Client(target) as client:
        found = client.search(QUERY, k=CHUNK)
        reranked = client.search(QUERY, k=2, rerank_top_k=CHUNK)
        [batch] = client.search_batch([QUERY], k=2, rerank_top_k=CHUNK)
    by_score = sorted((h.id for h in found), key=lambda i: -expected[ids.index(i)])
    assert [h.id for h in reranked] == by_score[:2]
    scores = [expected[ids.index(i)] for i in by_score[:2]]
    assert [h.score for h in reranked] == pytest.approx(scores, abs=1e-5)
    assert batch == reranked


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda c: c.rerank("", ["a"]), ValueError, "query is empty"),
        (lambda c: c.rerank("q", "one text"), TypeError, "not a single one"),
        (lambda c: c.rerank("q", []), ValueError, "candidates is empty"),
        (lambda c: c.rerank("q", ["a", 3]), TypeError, "candidates[1]"),
        (lambda c: c.rerank("q", ["a", "b"], top_n=3), ValueError, "top_n must be at most 2"),
        (lambda c: c.search("q", k=3, rerank_top_k=2), ValueError, "rerank_top_k must be at least 3"),
        (lambda c: c.search(np.ones(32), k=1, rerank_top_k=2), ValueError, "needs a text query"),
    ],
)
def test_bad_arguments_fail_in_the_client(target, call, error, message):
    with Client(target) as client, pytest.raises(error) as caught:
        call(client)
    assert message in str(caught.value)


@pytest.fixture
def cli(target, capsys, monkeypatch):
    """Run the client's subcommands as `embedtune` would; returns (exit code, stdout, stderr)."""
    monkeypatch.setenv("EMBEDTUNE_TARGET", target)

    def run(*argv: str) -> tuple[int, str, str]:
        parser = argparse.ArgumentParser(prog="embedtune")
        commands.register(parser.add_subparsers(dest="command", required=True))
        args = parser.parse_args(argv)
        code = args.handler(args)
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_cli_rerank_texts_and_ids(cli, expected):
    ids = list(DOCUMENTS)
    code, out, _ = cli("rerank", QUERY, *DOCUMENTS.values(), "--top-n", "2")
    assert code == 0
    best = best_first(expected)[:2]
    assert [line.split("\t")[1:] for line in out.splitlines()] == [[str(i), DOCUMENTS[ids[i]]] for i in best]
    code, out, _ = cli("rerank", QUERY, *ids, "--ids", "--json")
    assert code == 0
    assert [json.loads(line)["id"] for line in out.splitlines()] == [ids[i] for i in best_first(expected)]


def test_cli_search_reranks_and_an_unknown_id_is_one_line(cli):
    code, out, _ = cli("search", QUERY, "-k", "1", "--rerank-top-k", str(CHUNK))
    assert code == 0 and len(out.splitlines()) == 1
    code, out, err = cli("rerank", QUERY, "cat", "nope", "--ids")
    assert code == 1 and out == ""
    assert "NOT_FOUND" in err and "'nope'" in err and len(err.splitlines()) == 1
