"""The maths of every evaluation, on plain numpy arrays so tests can check it by hand.

Similarity is cosine throughout, as in the tutorial's evaluators.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np


def cosine_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosine similarity of a[i] with b[i] for every row i."""
    a, b = _unit(a), _unit(b)
    return np.sum(a * b, axis=1)


def cosine_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosine similarity of every row of `a` with every row of `b`: shape (len(a), len(b))."""
    return _unit(a) @ _unit(b).T


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norms, 1e-12)


# --- STS -------------------------------------------------------------------------------------


def pearson(x: np.ndarray, y: np.ndarray) -> float:
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if len(x) != len(y) or len(x) < 2:
        raise ValueError(
            f"correlation needs two equal-length arrays of at least 2 values, got {len(x)} and {len(y)}"
        )
    xc, yc = x - x.mean(), y - y.mean()
    denominator = np.sqrt(np.sum(xc**2) * np.sum(yc**2))
    return float(np.sum(xc * yc) / denominator) if denominator > 0 else float("nan")


def average_ranks(x: np.ndarray) -> np.ndarray:
    """Ranks 1..n, ties sharing their average rank (what Spearman's rho needs)."""
    x = np.asarray(x, dtype=np.float64)
    order = np.argsort(x, kind="mergesort")
    ranks = np.empty(len(x), dtype=np.float64)
    sorted_x = x[order]
    start = 0
    while start < len(x):
        end = start
        while end + 1 < len(x) and sorted_x[end + 1] == sorted_x[start]:
            end += 1
        ranks[order[start : end + 1]] = (start + end) / 2 + 1
        start = end + 1
    return ranks


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    return pearson(average_ranks(x), average_ranks(y))


def sts_metrics(embeddings1: np.ndarray, embeddings2: np.ndarray, gold: np.ndarray) -> dict[str, float]:
    scores = cosine_rows(embeddings1, embeddings2)
    return {"spearman_cosine": spearman(scores, gold), "pearson_cosine": pearson(scores, gold)}


# --- Triplets --------------------------------------------------------------------------------


def triplet_accuracy(anchors: np.ndarray, positives: np.ndarray, negatives: np.ndarray) -> float:
    """Share of triplets where the anchor is closer (cosine) to the positive than to the negative."""
    return float(np.mean(cosine_rows(anchors, positives) > cosine_rows(anchors, negatives)))


# --- Classes by nearest neighbour ------------------------------------------------------------


def knn_accuracy(embeddings: np.ndarray, labels: np.ndarray) -> float:
    """Leave-one-out 1-nearest-neighbour accuracy: share of rows whose most similar other row
    (cosine) has the same label. Of equally similar neighbours the first row wins."""
    labels = np.asarray(labels)
    if len(embeddings) < 2 or len(embeddings) != len(labels):
        raise ValueError(
            f"kNN accuracy needs at least 2 rows and one label per row, got {len(embeddings)} rows "
            f"and {len(labels)} labels"
        )
    similarities = cosine_matrix(embeddings, embeddings)
    np.fill_diagonal(similarities, -np.inf)  # a row is not its own neighbour
    nearest = np.argmax(similarities, axis=1)
    return float(np.mean(labels[nearest] == labels))


# --- Retrieval -------------------------------------------------------------------------------

Qrels = Mapping[str, Mapping[str, float]]  # query id → {document id: relevance grade > 0}


def reciprocal_rank(ranked: Sequence[str], relevant: Mapping[str, float], k: int) -> float:
    for position, doc_id in enumerate(ranked[:k], start=1):
        if relevant.get(doc_id, 0) > 0:
            return 1.0 / position
    return 0.0


def ndcg(ranked: Sequence[str], relevant: Mapping[str, float], k: int) -> float:
    """Normalised discounted cumulative gain with linear gain (grade) and log2(rank + 1) discount."""
    gains = np.array([relevant.get(doc_id, 0.0) for doc_id in ranked[:k]], dtype=np.float64)
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    dcg = float(np.sum(gains * discounts[: len(gains)]))
    ideal = np.sort(np.array([g for g in relevant.values() if g > 0], dtype=np.float64))[::-1][:k]
    idcg = float(np.sum(ideal * discounts[: len(ideal)]))
    return dcg / idcg if idcg > 0 else 0.0


def recall(ranked: Sequence[str], relevant: Mapping[str, float], k: int) -> float:
    wanted = {d for d, g in relevant.items() if g > 0}
    return len(wanted.intersection(ranked[:k])) / len(wanted) if wanted else 0.0


def average_precision(ranked: Sequence[str], relevant: Mapping[str, float], k: int) -> float:
    """Mean of precision@i over the ranks i of relevant hits, divided by min(k, #relevant)."""
    wanted = {d for d, g in relevant.items() if g > 0}
    if not wanted:
        return 0.0
    hits, total = 0, 0.0
    for position, doc_id in enumerate(ranked[:k], start=1):
        if doc_id in wanted:
            hits += 1
            total += hits / position
    return total / min(k, len(wanted))


def retrieval_metrics(rankings: Mapping[str, Sequence[str]], qrels: Qrels) -> dict[str, float]:
    """MRR@10, NDCG@10, Recall@1/5/10 and MAP@100, averaged over the queries in `rankings`."""
    if not rankings:
        raise ValueError("retrieval metrics need at least one ranked query")
    per_query = {
        "mrr@10": [reciprocal_rank(r, qrels.get(q, {}), 10) for q, r in rankings.items()],
        "ndcg@10": [ndcg(r, qrels.get(q, {}), 10) for q, r in rankings.items()],
        "recall@1": [recall(r, qrels.get(q, {}), 1) for q, r in rankings.items()],
        "recall@5": [recall(r, qrels.get(q, {}), 5) for q, r in rankings.items()],
        "recall@10": [recall(r, qrels.get(q, {}), 10) for q, r in rankings.items()],
        "map@100": [average_precision(r, qrels.get(q, {}), 100) for q, r in rankings.items()],
    }
    return {name: float(np.mean(values)) for name, values in per_query.items()}


def rank_corpus(scores: np.ndarray, corpus_ids: Sequence[str], k: int) -> list[list[str]]:
    """Top-k corpus ids per query row of a (queries × corpus) score matrix, best first."""
    k = min(k, scores.shape[1])
    top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    rows = np.arange(scores.shape[0])[:, None]
    order = np.argsort(-scores[rows, top], axis=1, kind="stable")
    return [[corpus_ids[j] for j in row] for row in top[rows, order]]


# --- Classes ---------------------------------------------------------------------------------


def macro_f1(predicted: np.ndarray, labels: np.ndarray) -> float:
    """F1 of each class present in `labels` or `predicted`, averaged with equal weight."""
    predicted, labels = np.asarray(predicted), np.asarray(labels)
    if predicted.shape != labels.shape or len(labels) == 0:
        raise ValueError(f"F1 needs equal non-empty label arrays, got {predicted.shape} and {labels.shape}")
    scores = []
    for cls in np.union1d(predicted, labels):
        true_positives = np.sum((predicted == cls) & (labels == cls))
        denominator = np.sum(predicted == cls) + np.sum(labels == cls)
        scores.append(2 * true_positives / denominator)
    return float(np.mean(scores))


# --- Binary classification -------------------------------------------------------------------


def best_accuracy(scores: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """Highest accuracy of "similar when score >= threshold", and that threshold."""
    scores, labels = _sorted_desc(scores, labels)
    positives_above = np.cumsum(labels)
    negatives_above = np.cumsum(1 - labels)
    total_negatives = negatives_above[-1]
    correct = positives_above + (total_negatives - negatives_above)  # cut after each position
    cut = _last_of_ties(scores)
    correct = np.where(cut, correct, -1)
    # Predicting everything dissimilar is also a threshold.
    best = int(np.argmax(correct))
    if total_negatives >= correct[best]:
        return float(total_negatives / len(labels)), float(scores[0] + 1e-6)
    return float(correct[best] / len(labels)), _midpoint(scores, best)


def best_f1(scores: np.ndarray, labels: np.ndarray) -> tuple[float, float, float, float]:
    """Highest F1 over thresholds: (f1, precision, recall, threshold)."""
    scores, labels = _sorted_desc(scores, labels)
    true_positives = np.cumsum(labels)
    predicted = np.arange(1, len(labels) + 1)
    total_positives = true_positives[-1]
    if total_positives == 0:
        return 0.0, 0.0, 0.0, float(scores[0])
    precision = true_positives / predicted
    recall_at = true_positives / total_positives
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(precision + recall_at > 0, 2 * precision * recall_at / (precision + recall_at), 0.0)
    f1 = np.where(_last_of_ties(scores), f1, -1)
    best = int(np.argmax(f1))
    return float(f1[best]), float(precision[best]), float(recall_at[best]), _midpoint(scores, best)


def average_precision_score(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the precision-recall curve as a step sum, as scikit-learn computes it."""
    scores, labels = _sorted_desc(scores, labels)
    total_positives = labels.sum()
    if total_positives == 0:
        return 0.0
    cut = _last_of_ties(scores)
    true_positives = np.cumsum(labels)[cut]
    predicted = np.arange(1, len(labels) + 1)[cut]
    precision = true_positives / predicted
    recall_at = true_positives / total_positives
    recall_steps = np.diff(np.concatenate([[0.0], recall_at]))
    return float(np.sum(recall_steps * precision))


def binary_classification_metrics(
    embeddings1: np.ndarray, embeddings2: np.ndarray, labels: np.ndarray
) -> dict[str, float]:
    scores = cosine_rows(embeddings1, embeddings2)
    labels = np.asarray(labels, dtype=np.float64)
    accuracy, accuracy_threshold = best_accuracy(scores, labels)
    f1, precision, recall_value, f1_threshold = best_f1(scores, labels)
    return {
        "cosine_accuracy": accuracy,
        "cosine_accuracy_threshold": accuracy_threshold,
        "cosine_f1": f1,
        "cosine_precision": precision,
        "cosine_recall": recall_value,
        "cosine_f1_threshold": f1_threshold,
        "cosine_ap": average_precision_score(scores, labels),
    }


def _sorted_desc(scores: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    scores, labels = np.asarray(scores, dtype=np.float64), np.asarray(labels, dtype=np.float64)
    if scores.shape != labels.shape or scores.ndim != 1 or len(scores) == 0:
        raise ValueError(
            f"scores and labels must be equal non-empty 1-D arrays, got {scores.shape}, {labels.shape}"
        )
    if not np.isin(labels, (0, 1)).all():
        raise ValueError("binary classification labels must be 0 or 1")
    order = np.argsort(-scores, kind="stable")
    return scores[order], labels[order]


def _last_of_ties(sorted_scores: np.ndarray) -> np.ndarray:
    """True where a threshold can cut: the last position of each run of equal scores."""
    return np.append(sorted_scores[1:] != sorted_scores[:-1], True)


def _midpoint(sorted_scores: np.ndarray, position: int) -> float:
    if position + 1 < len(sorted_scores):
        return float((sorted_scores[position] + sorted_scores[position + 1]) / 2)
    return float(sorted_scores[position])
