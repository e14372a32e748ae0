"""Evaluators for a cross-encoder: score held-out pairs with `predict`, measure with `evaluation.metrics`.

Each is a callable `model -> {metric: value}` with a `name` and a `primary` metric, the
same contract as the bi-encoder evaluators, so `evaluate_all`, keep-best and the
Trainer's evaluation use them unchanged. Which one fits held-out data follows from its
shape and the model's head (`evaluator_for_pairs`):

- scored pairs → Spearman (and Pearson) of the scores with the gold scores;
- 0/1 pairs on a one-logit head → accuracy, F1 and average precision at the best threshold;
- class ids on an N-logit head → accuracy and macro F1 of the arg-max;
- triplets → reranking: each anchor's positives and negatives ranked, NDCG@10 and MRR@10.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from embedtune_trainer.data import DataSettings, DataShape, load_data
from embedtune_trainer.data.columns import LABEL
from embedtune_trainer.data.sources import DataSource
from embedtune_trainer.evaluation import metrics

Pair = tuple[str, str]


class PairScorer(Protocol):
    num_labels: int

    def predict(self, pairs: Sequence[Pair], batch_size: int = ...) -> np.ndarray: ...


@dataclass
class PairScoreEvaluator:
    """Rank correlation of a one-logit cross-encoder's scores with gold similarity scores."""

    pairs: list[Pair]
    scores: list[float]
    name: str = "sts"
    batch_size: int = 64
    primary: str = "spearman"

    def __call__(self, model: PairScorer) -> dict[str, float]:
        predicted = model.predict(self.pairs, batch_size=self.batch_size)
        gold = np.asarray(self.scores)
        return {"spearman": metrics.spearman(predicted, gold), "pearson": metrics.pearson(predicted, gold)}


@dataclass
class BinaryPairEvaluator:
    """Accuracy, F1 and average precision of "relevant" = a one-logit score above the best threshold."""

    pairs: list[Pair]
    labels: list[int]
    name: str = "binary"
    batch_size: int = 64
    primary: str = "ap"

    def __call__(self, model: PairScorer) -> dict[str, float]:
        scores = model.predict(self.pairs, batch_size=self.batch_size)
        labels = np.asarray(self.labels, dtype=np.float64)
        accuracy, _ = metrics.best_accuracy(scores, labels)
        f1, _, _, _ = metrics.best_f1(scores, labels)
        return {"accuracy": accuracy, "f1": f1, "ap": metrics.average_precision_score(scores, labels)}


@dataclass
class PairClassEvaluator:
    """Accuracy and macro F1 of an N-logit cross-encoder's arg-max class."""

    pairs: list[Pair]
    labels: list[int]
    name: str = "classes"
    batch_size: int = 64
    primary: str = "accuracy"

    def __call__(self, model: PairScorer) -> dict[str, float]:
        predicted = np.argmax(model.predict(self.pairs, batch_size=self.batch_size), axis=1)
        labels = np.asarray(self.labels)
        return {"accuracy": float(np.mean(predicted == labels)), "f1": metrics.macro_f1(predicted, labels)}


@dataclass
class RerankingEvaluator:
    """Each query's candidates ranked by the cross-encoder; the retrieval metrics against its positives."""

    candidates: Mapping[str, list[str]]  # query → its candidate texts (positives and negatives)
    positives: Mapping[str, set[str]]  # query → the relevant ones among them
    name: str = "rerank"
    batch_size: int = 64
    primary: str = "ndcg@10"

    def __call__(self, model: PairScorer) -> dict[str, float]:
        queries = list(self.candidates)
        pairs = [(query, text) for query in queries for text in self.candidates[query]]
        scores = model.predict(pairs, batch_size=self.batch_size)
        rankings, qrels, start = {}, {}, 0
        for query in queries:
            texts = self.candidates[query]
            order = np.argsort(-scores[start : start + len(texts)], kind="stable")
            rankings[query] = [texts[i] for i in order]
            qrels[query] = {text: 1.0 for text in self.positives[query]}
            start += len(texts)
        found = metrics.retrieval_metrics(rankings, qrels)
        return {key: found[key] for key in ("ndcg@10", "mrr@10")}


def evaluator_for_pairs(
    source: DataSource, num_labels: int
) -> PairScoreEvaluator | BinaryPairEvaluator | PairClassEvaluator | RerankingEvaluator:
    """The evaluator that fits held-out data for a cross-encoder with `num_labels` outputs (--eval-data)."""
    data = load_data(source, DataSettings())
    rows = data.dataset
    if data.shape is DataShape.TRIPLET:
        candidates: dict[str, list[str]] = {}
        positives: dict[str, set[str]] = {}
        for anchor, positive, negative in zip(
            rows["anchor"], rows["positive"], rows["negative"], strict=True
        ):
            texts = candidates.setdefault(anchor, [])
            texts += [t for t in (positive, negative) if t not in texts]
            positives.setdefault(anchor, set()).add(positive)
        return RerankingEvaluator(candidates, positives)
    if data.shape is not DataShape.LABELED_PAIR:
        raise ValueError(
            f"no cross-encoder evaluator for {data.shape.name.lower()} data; use labelled pairs or triplets"
        )
    pairs = list(zip(rows["text1"], rows["text2"], strict=True))
    labels = list(rows[LABEL])
    if num_labels > 1:
        return PairClassEvaluator(pairs, [int(v) for v in labels])
    if all(isinstance(v, int) and v in (0, 1) for v in labels):
        return BinaryPairEvaluator(pairs, labels)
    return PairScoreEvaluator(pairs, [float(v) for v in labels])
