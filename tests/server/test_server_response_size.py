"""What one Search or BatchSearch can make the server build, through a real server.

400 documents of 10,000 characters each, and 64 queries asking k=1000 of them with their
texts: the response would repeat every text once per query, past `max_response_bytes`.
Such a request is refused naming the limit, before the documents are read (the server's
memory does not grow by anything like the response); the same request without texts is
small and served; a request whose texts fit is served whole.
"""

from __future__ import annotations

import grpc
import pytest

from embedtune_client import Client
from embedtune_client.v1 import embedtune_pb2 as pb
from embedtune_server.memory import peak_rss_bytes
from embedtune_server.settings import ServerSettings

DOCUMENTS = 400
DOCUMENT_CHARS = 10_000
QUERIES = 64
K = 1000
# Larger than gRPC's default receive limit: what the served requests below answer with.
RECEIVE_BYTES = ServerSettings().max_response_bytes + 1024


def long_text(i: int) -> str:
    """10,000 characters but few tokens (whitespace), so storing 400 of them embeds quickly."""
    head = f"note {i} on subject {i % 13}"
    return head + " " * (DOCUMENT_CHARS - len(head))


@pytest.fixture(scope="module")
def stored(launch):
    """A server holding the 400 long documents, and its stubs on a channel that can take big responses."""
    server = launch()
    channel = grpc.insecure_channel(server.address, [("grpc.max_receive_message_length", RECEIVE_BYTES)])
    embed, index, _ = server.stubs(channel)
    for start in range(0, DOCUMENTS, 100):
        documents = [
            pb.Document(id=f"doc-{i}", text=long_text(i), metadata={"subject": str(i % 13)})
            for i in range(start, start + 100)
        ]
        index.Upsert(pb.UpsertRequest(documents=documents))
    yield server, embed, index
    channel.close()


def queries(count: int, **include: bool) -> list[pb.SearchRequest]:
    return [pb.SearchRequest(text=f"a note on subject {q % 13}", k=K, **include) for q in range(count)]


def test_info_reports_the_response_limit(stored):
    _, embed, _ = stored
    assert embed.Info(pb.InfoRequest()).limits.max_response_bytes == ServerSettings().max_response_bytes


def test_a_batch_search_past_the_limit_is_refused_naming_it_before_reading_the_documents(stored):
    server, _, index = stored
    limit = ServerSettings().max_response_bytes
    # The same queries without texts first: the peak then already holds what embedding them
    # takes (the batch memory a stream keeps until it idles).
    index.BatchSearch(pb.BatchSearchRequest(queries=queries(QUERIES, include_text=False)))
    before = peak_rss_bytes(server.process.pid)
    with pytest.raises(grpc.RpcError) as refused:
        index.BatchSearch(pb.BatchSearchRequest(queries=queries(QUERIES)))
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert f"max_response_bytes={limit}" in refused.value.details()
    assert "queries" in refused.value.details() and "include_text=false" in refused.value.details()
    # The texts were never read: the peak grew by far less than the response it refused (an eighth).
    assert peak_rss_bytes(server.process.pid) - before < limit // 8


def test_a_search_past_the_limit_names_k(launch):
    server = launch("--max-response-bytes", "25000")
    with server.channel() as channel:
        index = server.stubs(channel)[1]
        index.Upsert(
            pb.UpsertRequest(documents=[pb.Document(id=f"d{i}", text=long_text(i)) for i in range(3)])
        )
        with pytest.raises(grpc.RpcError) as refused:
            index.Search(pb.SearchRequest(text="a note", k=3))
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert (
            refused.value.details().startswith("k: ")
            and "max_response_bytes=25000" in refused.value.details()
        )
        # two of the three texts fit
        assert len(index.Search(pb.SearchRequest(text="a note", k=2)).hits) == 2


def test_without_texts_and_metadata_the_same_batch_search_is_small_and_served(stored):
    _, _, index = stored
    request = pb.BatchSearchRequest(queries=queries(QUERIES, include_text=False, include_metadata=False))
    response = index.BatchSearch(request)
    assert [len(r.hits) for r in response.results] == [DOCUMENTS] * QUERIES
    assert all(h.text == "" and not h.metadata for r in response.results for h in r.hits)
    # ids and scores only: well under a tenth of what a single copy of the texts would take
    assert response.ByteSize() < DOCUMENTS * DOCUMENT_CHARS * QUERIES // 10


def test_texts_and_metadata_are_left_out_independently(stored):
    _, _, index = stored
    no_text = index.Search(pb.SearchRequest(text="note 7 on subject 7", k=5, include_text=False))
    assert no_text.hits[0].id == "doc-7"
    assert no_text.hits[0].text == "" and dict(no_text.hits[0].metadata) == {"subject": "7"}
    no_metadata = index.Search(pb.SearchRequest(text="note 7 on subject 7", k=5, include_metadata=False))
    assert no_metadata.hits[0].text == long_text(7) and not no_metadata.hits[0].metadata


def test_a_batch_search_whose_texts_fit_is_served_whole(stored):
    """Four queries x 400 texts fit: the refusal goes by the documents' stored sizes, not
    by the largest document the settings allow (which would refuse this too)."""
    _, _, index = stored
    response = index.BatchSearch(pb.BatchSearchRequest(queries=queries(4)))
    assert [len(r.hits) for r in response.results] == [DOCUMENTS] * 4
    assert all(len(h.text) == DOCUMENT_CHARS for r in response.results for h in r.hits)
    assert response.ByteSize() <= ServerSettings().max_response_bytes


def test_the_client_asks_for_ids_and_scores_only(stored):
    server, _, _ = stored
    with Client(server.address) as client:
        [hits] = client.search_batch(["note 3 on subject 3"], k=3, include_text=False, include_metadata=False)
        assert hits[0].id == "doc-3" and hits[0].text == "" and not hits[0].metadata
        hit = client.search("note 3 on subject 3", k=1, include_text=False)[0]
        assert hit.text == "" and hit.metadata == {"subject": "3"}
