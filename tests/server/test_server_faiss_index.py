"""FaissIndex: filtered search returns k hits, removal, training on demand, save and load."""

from __future__ import annotations

import numpy as np
import pytest

from embedtune_server.index.faiss_index import FaissIndex

DIM = 16
FACTORIES = ["Flat", "HNSW32", "IVF16,Flat", "IVF8,PQ4x4"]


def unit_vectors(n: int, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, DIM)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def filled(factory: str, n: int = 2000) -> tuple[FaissIndex, np.ndarray]:
    index = FaissIndex(DIM, factory, train_size=1000)
    vectors = unit_vectors(n)
    index.add(np.arange(100, 100 + n), vectors)
    return index, vectors


@pytest.mark.parametrize("factory", FACTORIES)
def test_filtered_search_returns_k_hits_when_k_match(factory):
    index, vectors = filled(factory)
    allowed = np.arange(100, 2100, 97)  # 21 scattered ids: too selective for a graph walk or few probes
    for query in vectors[:5]:
        hits = index.search(query[None], 10, allowed)[0]
        assert len(hits.ids) == 10
        assert set(hits.ids.tolist()) <= set(allowed.tolist())
        assert list(hits.scores) == sorted(hits.scores, reverse=True)


@pytest.mark.parametrize("factory", FACTORIES)
def test_removed_vectors_are_never_returned(factory):
    index, vectors = filled(factory)
    removed = np.arange(100, 150)
    index.remove(removed)
    assert index.size == 2000 - 50
    hits = index.search(vectors[:50], 5)
    assert not set(np.concatenate([h.ids for h in hits]).tolist()) & set(removed.tolist())
    assert len(index.search(vectors[:1], 5, allowed=removed)[0].ids) == 0


def test_exact_index_finds_the_query_itself():
    index, vectors = filled("Flat")
    hits = index.search(vectors[[3, 7]], 1)
    assert [h.ids[0] for h in hits] == [103, 107]
    assert hits[0].scores[0] == pytest.approx(1.0, abs=1e-5)


def test_index_needing_training_serves_exactly_until_trained():
    index = FaissIndex(DIM, "IVF8,Flat", train_size=500)
    vectors = unit_vectors(800)
    index.add(np.arange(300), vectors[:300])
    assert "untrained" in index.description
    assert index.search(vectors[5:6], 1)[0].ids[0] == 5
    index.add(np.arange(300, 800), vectors[300:])
    assert index.description == "IVF8,Flat" and index.size == 800


@pytest.mark.parametrize("factory", ["Flat", "HNSW32", "IVF8,PQ4x4"])
def test_save_and_load_round_trip(tmp_path, factory):
    index, vectors = filled(factory)
    index.remove(np.array([100, 101]))
    index.save(tmp_path, write_seq=42)
    loaded, seq = FaissIndex.load(tmp_path, DIM, factory)
    assert seq == 42 and loaded.size == index.size
    for query in vectors[2:6]:
        assert loaded.search(query[None], 5)[0].ids.tolist() == index.search(query[None], 5)[0].ids.tolist()
    with pytest.raises(ValueError, match="want Flat/8"):
        FaissIndex.load(tmp_path, 8, "Flat")
