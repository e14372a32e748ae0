"""Evaluators: embed a fixed evaluation set with an encoder and score it with `metrics`.

Each evaluator is a callable `encoder -> {metric: value}` with a `name` and a
`primary` metric (the one keep-best and the feedback gate compare). Reported together,
metrics are keyed `<name>_<metric>` (`evaluate_all`), e.g. "triplet_cosine_accuracy".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from embedtune_trainer.evaluation import metrics


class Encoder(Protocol):
    def encode(self, texts: Sequence[str], batch_size: int = ..., normalize: bool = ...) -> np.ndarray: ...


@dataclass
class STSEvaluator:
    """Spearman and Pearson correlation of cosine similarity with gold scores."""

    texts1: list[str]
    texts2: list[str]
    scores: list[float]
    name: str = "sts"
    batch_size: int = 64
    primary: str = "spearman_cosine"

    def __call__(self, encoder: Encoder) -> dict[str, float]:
        first, second = _encode_pair(encoder, self.texts1, self.texts2, self.batch_size)
        return metrics.sts_metrics(first, second, np.asarray(self.scores))


@dataclass
class TripletEvaluator:
    """Share of (anchor, positive, negative) where the positive is the closer one."""

    anchors: list[str]
    positives: list[str]
    negatives: list[str]
    name: str = "triplet"
    batch_size: int = 64
    primary: str = "cosine_accuracy"

    def __call__(self, encoder: Encoder) -> dict[str, float]:
        embeddings = _encode_unique(encoder, [self.anchors, self.positives, self.negatives], self.batch_size)
        return {"cosine_accuracy": metrics.triplet_accuracy(*embeddings)}


@dataclass
class BinaryClassificationEvaluator:
    """Accuracy, F1 and average precision of "similar" = cosine above the best threshold."""

    texts1: list[str]
    texts2: list[str]
    labels: list[int]
    name: str = "binary"
    batch_size: int = 64
    primary: str = "cosine_ap"

    def __call__(self, encoder: Encoder) -> dict[str, float]:
        first, second = _encode_pair(encoder, self.texts1, self.texts2, self.batch_size)
        return metrics.binary_classification_metrics(first, second, np.asarray(self.labels))


@dataclass
class RetrievalEvaluator:
    """Rank the whole corpus for every query by cosine; MRR, NDCG, Recall and MAP against qrels."""

    corpus: Mapping[str, str]  # document id → text
    queries: Mapping[str, str]  # query id → text
    qrels: metrics.Qrels
    name: str = "ir"
    batch_size: int = 64
    top_k: int = 100
    primary: str = "ndcg@10"

    def __post_init__(self) -> None:
        judged = [q for q in self.queries if self.qrels.get(q)]
        if not judged:
            raise ValueError("retrieval evaluation: no query has a relevance judgement in the qrels")
        self.queries = {q: self.queries[q] for q in judged}

    def __call__(self, encoder: Encoder) -> dict[str, float]:
        corpus_ids = list(self.corpus)
        corpus_embeddings = encoder.encode(
            [self.corpus[d] for d in corpus_ids], batch_size=self.batch_size, normalize=True
        )
        query_ids = list(self.queries)
        query_embeddings = encoder.encode(
            [self.queries[q] for q in query_ids], batch_size=self.batch_size, normalize=True
        )
        rankings: dict[str, list[str]] = {}
        for start in range(0, len(query_ids), 256):  # bounded memory for large corpora
            scores = query_embeddings[start : start + 256] @ corpus_embeddings.T
            for query_id, ranked in zip(
                query_ids[start : start + 256],
                metrics.rank_corpus(scores, corpus_ids, self.top_k),
                strict=True,
            ):
                rankings[query_id] = ranked
        return metrics.retrieval_metrics(rankings, self.qrels)


@dataclass
class KNNEvaluator:
    """Share of texts whose nearest other text (cosine) carries the same class label."""

    texts: list[str]
    labels: list[int]
    name: str = "knn"
    batch_size: int = 64
    primary: str = "accuracy"

    def __call__(self, encoder: Encoder) -> dict[str, float]:
        (embeddings,) = _encode_unique(encoder, [self.texts], self.batch_size)
        return {"accuracy": metrics.knn_accuracy(embeddings, np.asarray(self.labels))}


Evaluator = (
    STSEvaluator | TripletEvaluator | BinaryClassificationEvaluator | RetrievalEvaluator | KNNEvaluator
)


def primary_key(evaluator: Evaluator) -> str:
    """The key of the evaluator's primary metric among `evaluate_all`'s results."""
    return f"{evaluator.name}_{evaluator.primary}"


def evaluate_all(evaluators: Sequence[Evaluator], encoder: Encoder) -> dict[str, float]:
    """Every evaluator's metrics on `encoder`, keyed `<evaluator name>_<metric>`."""
    return {
        f"{evaluator.name}_{key}": float(value)
        for evaluator in evaluators
        for key, value in evaluator(encoder).items()
    }


def _encode_pair(encoder: Encoder, first: list[str], second: list[str], batch_size: int) -> list[np.ndarray]:
    return _encode_unique(encoder, [first, second], batch_size)


def _encode_unique(encoder: Encoder, columns: list[list[str]], batch_size: int) -> list[np.ndarray]:
    """Embed each distinct text once (evaluation sets repeat sentences a lot), then spread back."""
    unique = list(dict.fromkeys(text for column in columns for text in column))
    embeddings = encoder.encode(unique, batch_size=batch_size)
    index = {text: i for i, text in enumerate(unique)}
    return [embeddings[[index[t] for t in column]] for column in columns]
