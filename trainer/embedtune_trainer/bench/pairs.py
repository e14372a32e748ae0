"""The most similar pair among N sentences: a bi-encoder against a cross-encoder, on this machine.

The tutorial's argument for bi-encoders (Reimers and Gurevych 2019): among 10,000
sentences, a cross-encoder must score all n(n-1)/2 ≈ 50 million pairs, about 65 hours
with BERT on a V100, where a bi-encoder encodes 10,000 sentences once and compares
vectors, about 5 seconds. Here both models run on ONNX Runtime, as the server runs them.

- Bi-encoder: encode the N sentences, one matrix product (cut into row blocks so memory
  stays bounded), exact arg-max over i < j. Timed end to end, encoding included.
- Cross-encoder: score every pair i < j, batched, for at most `budget_s` seconds. Rows i
  are taken in a random order, so a cut-off run has scored a fair sample of pairs, and
  the rest is extrapolated from the measured pairs/s (and marked as extrapolated).
- Where the cross-encoder finishes: whether both pick the same pair. Always: the
  cross-encoder's score of the bi-encoder's pick and of its own best pair so far.

`corpus_experiment`: one query against a corpus: FAISS search over the corpus
embeddings (encoded beforehand, as an index holds them) against cross-encoding every
document, with the same budget and extrapolation.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass

import numpy as np
from tqdm.auto import tqdm

from embedtune_trainer.bench.onnx_runners import OnnxBiEncoder, OnnxCrossEncoder

ROW_BLOCK = 1024  # rows of the similarity matrix held at once


@dataclass
class PairsRecord:
    """One N of the experiment; `pairs` is n(n-1)/2, `ratio` cross_s / bi_s."""

    n: int
    pairs: int
    bi_s: float
    cross_s: float
    cross_extrapolated: bool
    ratio: float
    cross_pairs_scored: int
    bi_pick: list[int]
    cross_pick: list[int] | None  # the best pair among those scored
    same_pair: bool | None  # None: the cross-encoder did not score every pair
    cross_score_of_bi_pick: float
    cross_best_score: float

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class CorpusRecord:
    documents: int
    encode_corpus_s: float  # done once, before any query (not part of the search time)
    faiss_search_s: float  # encode the query + search the index
    cross_s: float
    cross_extrapolated: bool
    ratio: float
    cross_documents_scored: int
    same_top_document: bool | None

    def as_dict(self) -> dict:
        return asdict(self)


def most_similar_pair(embeddings: np.ndarray) -> tuple[int, int]:
    """The (i, j), i < j, of the largest dot product among unit vectors."""
    best, pick = -np.inf, (0, 1)
    for start in range(0, len(embeddings), ROW_BLOCK):
        block = embeddings[start : start + ROW_BLOCK] @ embeddings.T
        rows = np.arange(start, start + len(block))[:, None]
        block[np.arange(embeddings.shape[0])[None, :] <= rows] = -np.inf  # keep j > i only
        flat = int(np.argmax(block))
        if block.flat[flat] > best:
            best = float(block.flat[flat])
            pick = (start + flat // block.shape[1], flat % block.shape[1])
    return pick


def pairs_experiment(
    bi: OnnxBiEncoder,
    cross: OnnxCrossEncoder,
    sentences: Sequence[str],
    n: int,
    budget_s: float,
    chunk: int = 512,
    seed: int = 0,
) -> PairsRecord:
    """Both methods on the first `n` sentences; the cross-encoder stops after `budget_s` seconds."""
    if n < 2 or n > len(sentences):
        raise ValueError(f"n must be between 2 and the {len(sentences)} sentences available, got {n}")
    texts = list(sentences[:n])
    started = time.perf_counter()
    bi_pick = most_similar_pair(bi.encode(texts))
    bi_s = time.perf_counter() - started

    total = n * (n - 1) // 2
    remaining = _pairs_by_random_rows(n, seed)
    scored, best, cross_pick = 0, -np.inf, None
    started = time.perf_counter()
    with tqdm(total=total, desc=f"Cross-encoding pairs (n={n})", unit="pair", leave=False) as progress:
        while batch := list(itertools.islice(remaining, chunk)):
            scores = cross.score([(texts[a], texts[b]) for a, b in batch])
            top = int(np.argmax(scores))
            if scores[top] > best:
                best, cross_pick = float(scores[top]), batch[top]
            scored += len(batch)
            progress.update(len(batch))
            if time.perf_counter() - started >= budget_s:
                break
    elapsed = time.perf_counter() - started
    finished = scored == total
    cross_s = elapsed if finished else elapsed / scored * total
    bi_score = float(cross.score([(texts[bi_pick[0]], texts[bi_pick[1]])])[0])
    return PairsRecord(
        n=n,
        pairs=total,
        bi_s=bi_s,
        cross_s=cross_s,
        cross_extrapolated=not finished,
        ratio=cross_s / bi_s,
        cross_pairs_scored=scored,
        bi_pick=[int(x) for x in bi_pick],
        cross_pick=[int(x) for x in cross_pick] if cross_pick else None,
        same_pair=(tuple(cross_pick) == tuple(bi_pick)) if finished and cross_pick else None,
        cross_score_of_bi_pick=bi_score,
        cross_best_score=best,
    )


def _pairs_by_random_rows(n: int, seed: int) -> Iterator[tuple[int, int]]:
    """Every (i, j), i < j, row by row, the rows i in a random order."""
    for i in np.random.default_rng(seed).permutation(n - 1):  # row n-1 has no j > i
        yield from ((int(i), j) for j in range(int(i) + 1, n))


def build_corpus(sentences: Sequence[str], size: int) -> list[str]:
    """`size` distinct documents: the M distinct sentences themselves, then sentence i joined by
    a space to sentence (i + 1 + r) mod M in rounds r = 0, 1, …: each round pairs every sentence
    with a partner it has not had, so up to M·(M − 1) joined documents are distinct."""
    unique = list(dict.fromkeys(sentences))
    m = len(unique)
    corpus = unique[:size]
    seen = set(corpus)
    k = 0
    while len(corpus) < size:
        if k >= m * (m - 1):
            raise ValueError(f"{m} sentences cannot make {size} distinct documents")
        i, r = k % m, k // m
        document = f"{unique[i]} {unique[(i + 1 + r) % m]}"
        k += 1
        if document not in seen:
            seen.add(document)
            corpus.append(document)
    return corpus


def corpus_experiment(
    bi: OnnxBiEncoder,
    cross: OnnxCrossEncoder,
    query: str,
    corpus: Sequence[str],
    budget_s: float,
    chunk: int = 512,
) -> CorpusRecord:
    """One query: FAISS exact inner-product search against scoring (query, document) for every document."""
    import faiss

    started = time.perf_counter()
    documents = bi.encode(corpus, progress="Encoding the corpus")
    index = faiss.IndexFlatIP(documents.shape[1])
    index.add(documents)
    encode_s = time.perf_counter() - started

    started = time.perf_counter()
    _, top = index.search(bi.encode([query]), 1)
    search_s = time.perf_counter() - started

    scored, best, best_document = 0, -np.inf, -1
    started = time.perf_counter()
    with tqdm(total=len(corpus), desc="Cross-encoding the corpus", unit="doc", leave=False) as progress:
        for begin in range(0, len(corpus), chunk):
            scores = cross.score([(query, document) for document in corpus[begin : begin + chunk]])
            if scores.max() > best:
                best, best_document = float(scores.max()), begin + int(np.argmax(scores))
            scored += len(scores)
            progress.update(len(scores))
            if time.perf_counter() - started >= budget_s:
                break
    elapsed = time.perf_counter() - started
    finished = scored == len(corpus)
    cross_s = elapsed if finished else elapsed / scored * len(corpus)
    return CorpusRecord(
        documents=len(corpus),
        encode_corpus_s=encode_s,
        faiss_search_s=search_s,
        cross_s=cross_s,
        cross_extrapolated=not finished,
        ratio=cross_s / search_s,
        cross_documents_scored=scored,
        same_top_document=(best_document == int(top[0, 0])) if finished else None,
    )
