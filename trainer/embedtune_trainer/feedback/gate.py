"""The gate: the held-out feedback scored by the active and the new model, and the decision.

The evaluators are built once from the held-out items and score both models. Each kind
contributes what it can measure:

- triplets: share of triplets whose positive is closer than the negative
  (`triplet_cosine_accuracy`);
- triplets and pairs together: each distinct anchor retrieves its positives among every
  held-out candidate text, positives and negatives (`ir_ndcg@10`; MRR@10 and recall too);
- labeled pairs: Spearman of cosine with float scores (`sts_spearman_cosine`), or average
  precision for 0/1 labels (`binary_cosine_ap`);
- labeled texts: leave-one-out 1-nearest-neighbour class accuracy (`knn_accuracy`).

A set that cannot tell models apart gives no evaluator: scores with fewer than two
distinct values, 0/1 labels of one class only, class ids on pairs (no pair metric reads
them), fewer than two texts or one class among labeled texts. A model's gate score is
the mean of the evaluators' primary metrics; the new version passes iff its score beats
the active one's by more than the margin.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import datasets

from embedtune_trainer.data import DataError, DataShape
from embedtune_trainer.data.columns import LABEL
from embedtune_trainer.evaluation.evaluators import (
    BinaryClassificationEvaluator,
    Evaluator,
    KNNEvaluator,
    RetrievalEvaluator,
    STSEvaluator,
    TripletEvaluator,
    primary_key,
)
from embedtune_trainer.feedback.kind_data import KindData


@dataclass(frozen=True)
class GateDecision:
    metric: str  # e.g. "mean(triplet_cosine_accuracy, ir_ndcg@10)"
    active_score: float
    new_score: float
    margin: float
    passed: bool

    def as_dict(self) -> dict[str, object]:
        return asdict(self)

    @property
    def reason(self) -> str:
        """Why the new version was rejected; empty when it passed."""
        if self.passed:
            return ""
        return (
            f"new {self.new_score:.3f} does not beat active {self.active_score:.3f} "
            f"by more than {self.margin} on {self.metric}"
        )


def held_out_evaluators(held_out: Mapping[str, KindData]) -> list[Evaluator]:
    """The evaluators the held-out data supports; a DataError when it supports none."""
    tables = {part.data.shape: part.data.dataset for part in held_out.values()}
    candidates = [
        _triplet_evaluator(tables.get(DataShape.TRIPLET)),
        _retrieval_evaluator(
            [tables[s] for s in (DataShape.TRIPLET, DataShape.POSITIVE_PAIR) if s in tables]
        ),
        _labeled_pair_evaluator(tables.get(DataShape.LABELED_PAIR)),
        _knn_evaluator(tables.get(DataShape.LABELED_TEXT)),
    ]
    evaluators = [e for e in candidates if e is not None]
    if not evaluators:
        counts = ", ".join(f"{len(part.data)} {kind}" for kind, part in held_out.items())
        raise DataError(
            f"the held-out feedback ({counts}) gives the gate nothing to measure: it needs a triplet "
            "or pair, labeled pairs with two different scores or both 0/1 labels, or labeled texts "
            "of two classes; raise held_out_fraction or send more feedback"
        )
    return evaluators


def held_out_texts(held_out: Mapping[str, KindData]) -> list[str]:
    """Every distinct text of the held-out items: all the evaluators ever embed."""
    texts = (
        text
        for part in held_out.values()
        for column in part.data.shape.text_columns
        for text in part.data.dataset[column]
    )
    return list(dict.fromkeys(texts))


def decide(
    evaluators: Sequence[Evaluator],
    metrics_active: Mapping[str, float],
    metrics_new: Mapping[str, float],
    margin: float,
) -> GateDecision:
    keys = [primary_key(e) for e in evaluators]
    active = sum(metrics_active[k] for k in keys) / len(keys)
    new = sum(metrics_new[k] for k in keys) / len(keys)
    return GateDecision(f"mean({', '.join(keys)})", active, new, margin, new - active > margin)


def _triplet_evaluator(rows: datasets.Dataset | None) -> TripletEvaluator | None:
    if rows is None:
        return None
    return TripletEvaluator(list(rows["anchor"]), list(rows["positive"]), list(rows["negative"]))


def _retrieval_evaluator(tables: list[datasets.Dataset]) -> RetrievalEvaluator | None:
    """Queries: the distinct anchors; documents: every positive and negative; relevant: its positives."""
    if not tables:
        return None
    positives: dict[str, list[str]] = {}
    candidates: list[str] = []
    for rows in tables:
        for anchor, positive in zip(rows["anchor"], rows["positive"], strict=True):
            positives.setdefault(anchor, []).append(positive)
        candidates.extend(rows["positive"])
        if "negative" in rows.column_names:
            candidates.extend(rows["negative"])
    corpus = {f"d{i}": text for i, text in enumerate(dict.fromkeys(candidates))}
    document = {text: doc_id for doc_id, text in corpus.items()}
    queries = {f"q{i}": anchor for i, anchor in enumerate(positives)}
    qrels = {f"q{i}": {document[p]: 1.0 for p in positives[anchor]} for i, anchor in enumerate(positives)}
    return RetrievalEvaluator(corpus, queries, qrels)


def _labeled_pair_evaluator(
    rows: datasets.Dataset | None,
) -> STSEvaluator | BinaryClassificationEvaluator | None:
    if rows is None:
        return None
    labels = list(rows[LABEL])
    texts1, texts2 = list(rows["text1"]), list(rows["text2"])
    if all(isinstance(v, int) for v in labels):
        if set(labels) == {0, 1}:
            return BinaryClassificationEvaluator(texts1, texts2, labels)
        return None  # one class only, or class ids: nothing a pair metric can rank
    if len(set(labels)) < 2:
        return None
    return STSEvaluator(texts1, texts2, [float(v) for v in labels])


def _knn_evaluator(rows: datasets.Dataset | None) -> KNNEvaluator | None:
    if rows is None or len(set(rows[LABEL])) < 2:
        return None
    return KNNEvaluator(list(rows["text"]), [int(v) for v in rows[LABEL]])
