"""Approximate indexes through a real server: Search returns min(k, live documents) hits.

HNSW cannot remove, so replaced documents leave tombstones behind; IVF with one probe
sees one list. Neither may shorten a result.
"""

from __future__ import annotations

import pytest

from embedtune_client.v1 import embedtune_pb2 as pb


def documents(round_: int, n: int) -> list[pb.Document]:
    return [
        pb.Document(id=f"doc-{i}", text=f"Edition {round_} of note {i} on subject {i * 7 % 11}")
        for i in range(n)
    ]


def hit_ids(index, text: str, k: int) -> list[str]:
    return [h.id for h in index.Search(pb.SearchRequest(text=text, k=k)).hits]


@pytest.mark.slow
def test_hnsw_after_replacing_every_document_many_times_returns_k_hits(launch, tmp_path):
    home = tmp_path / "home"
    server = launch("--index-factory", "HNSW32", "--index-search-params", "efSearch=16", home=home)
    with server.channel() as channel:
        index = server.stubs(channel)[1]
        for round_ in range(30):
            index.Upsert(pb.UpsertRequest(documents=documents(round_, 50)))
        index.Delete(pb.DeleteRequest(ids=[f"doc-{i}" for i in range(39, 50)]))
        assert index.Count(pb.CountRequest()).count == 39
        for k in (10, 39, 1000):
            found = hit_ids(index, "Edition 29 of note 3", k)
            assert len(found) == min(k, 39) and len(set(found)) == len(found)
    assert server.stop() == 0
    restarted = launch("--index-factory", "HNSW32", "--index-search-params", "efSearch=16", home=home)
    with restarted.channel() as channel:
        index = restarted.stubs(channel)[1]
        found = hit_ids(index, documents(29, 50)[3].text, 1000)
        assert len(found) == 39 and found[0] == "doc-3"  # its latest text finds it first


@pytest.mark.slow
def test_ivf_with_one_probe_returns_k_hits(launch):
    server = launch(
        "--index-factory", "IVF16,Flat", "--index-train-size", "400", "--index-search-params", "nprobe=1"
    )
    with server.channel() as channel:
        embed, index, _ = server.stubs(channel)
        for start in range(0, 600, 100):
            batch = [
                pb.Document(id=f"doc-{i}", text=f"Item {i}: a note on subject {i % 23}")
                for i in range(start, start + 100)
            ]
            index.Upsert(pb.UpsertRequest(documents=batch))
        assert embed.Info(pb.InfoRequest()).index_type == "IVF16,Flat"
        found = hit_ids(index, "a note on subject 5", 500)
        assert len(found) == 500 and len(set(found)) == 500
