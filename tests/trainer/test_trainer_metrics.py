"""Evaluator maths on hand-made inputs whose answers are worked out here."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats
from sklearn.metrics import accuracy_score, f1_score
from sklearn.metrics import average_precision_score as sklearn_ap

from embedtune_trainer.evaluation import metrics


def test_cosine_rows_and_matrix():
    a = np.array([[1.0, 0.0], [1.0, 1.0]])
    b = np.array([[0.0, 2.0], [3.0, 3.0]])
    assert metrics.cosine_rows(a, b) == pytest.approx([0.0, 1.0])
    assert metrics.cosine_matrix(a, b) == pytest.approx(
        np.array([[0.0, 1 / math.sqrt(2)], [1 / math.sqrt(2), 1.0]])
    )


def test_correlations_match_scipy_with_ties():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 5, size=50).astype(float)  # many ties
    y = x + rng.normal(size=50)
    assert metrics.spearman(x, y) == pytest.approx(stats.spearmanr(x, y).statistic)
    assert metrics.pearson(x, y) == pytest.approx(stats.pearsonr(x, y).statistic)


def test_sts_perfect_and_reversed_order():
    angles = np.linspace(0.1, 1.4, 6)
    first = np.tile([1.0, 0.0], (6, 1))
    second = np.stack([np.cos(angles), np.sin(angles)], axis=1)  # cosine falls as the angle grows
    assert metrics.sts_metrics(first, second, -angles)["spearman_cosine"] == pytest.approx(1.0)
    assert metrics.sts_metrics(first, second, angles)["spearman_cosine"] == pytest.approx(-1.0)


def test_triplet_accuracy_counts_strictly_closer():
    anchors = np.array([[1.0, 0.0]] * 4)
    positives = np.array([[1.0, 0.1], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    negatives = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    # wins, loses, tie (not a win), wins
    assert metrics.triplet_accuracy(anchors, positives, negatives) == pytest.approx(0.5)


def test_perfect_ranking_scores_one():
    qrels = {"q": {"a": 1.0, "b": 1.0}}
    result = metrics.retrieval_metrics({"q": ["a", "b", "c", "d"]}, qrels)
    assert result["ndcg@10"] == pytest.approx(1.0)
    assert result["mrr@10"] == pytest.approx(1.0)
    assert result["map@100"] == pytest.approx(1.0)
    assert result["recall@1"] == pytest.approx(0.5)
    assert result["recall@5"] == pytest.approx(1.0)


def test_ranking_metrics_by_hand():
    ranked = ["x", "a", "y", "b"] + [f"z{i}" for i in range(20)]
    relevant = {"a": 1.0, "b": 1.0, "c": 1.0}  # c is never retrieved
    assert metrics.reciprocal_rank(ranked, relevant, 10) == pytest.approx(1 / 2)
    dcg = 1 / math.log2(3) + 1 / math.log2(5)
    idcg = 1 + 1 / math.log2(3) + 1 / math.log2(4)
    assert metrics.ndcg(ranked, relevant, 10) == pytest.approx(dcg / idcg)
    assert metrics.recall(ranked, relevant, 1) == 0.0
    assert metrics.recall(ranked, relevant, 5) == pytest.approx(2 / 3)
    assert metrics.average_precision(ranked, relevant, 100) == pytest.approx((1 / 2 + 2 / 4) / 3)
    assert metrics.reciprocal_rank(["x"] * 10 + ["a"], relevant, 10) == 0.0


def test_graded_ndcg():
    relevant = {"a": 2.0, "b": 1.0}
    ideal = 2 + 1 / math.log2(3)
    assert metrics.ndcg(["b", "a"], relevant, 10) == pytest.approx((1 + 2 / math.log2(3)) / ideal)


def test_rank_corpus_orders_by_score():
    scores = np.array([[0.1, 0.9, 0.5], [0.7, 0.2, 0.3]])
    assert metrics.rank_corpus(scores, ["a", "b", "c"], 2) == [["b", "c"], ["a", "c"]]


def _sklearn_best(scores, labels, metric):
    """Try every cut between distinct scores the brute-force way."""
    cuts = np.concatenate([[scores.max() + 1], np.unique(scores)])
    return max(metric(labels, (scores >= t).astype(int)) for t in cuts)


def test_binary_classification_matches_brute_force_and_sklearn():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 2, size=60)
    scores = np.round(labels * 0.3 + rng.normal(scale=0.3, size=60), 1)  # rounding makes ties
    accuracy, threshold = metrics.best_accuracy(scores, labels)
    assert accuracy == pytest.approx(_sklearn_best(scores, labels, accuracy_score))
    assert accuracy_score(labels, (scores >= threshold).astype(int)) == pytest.approx(accuracy)
    f1, precision, recall_value, f1_threshold = metrics.best_f1(scores, labels)
    assert f1 == pytest.approx(_sklearn_best(scores, labels, f1_score))
    assert f1_score(labels, (scores >= f1_threshold).astype(int)) == pytest.approx(f1)
    assert 2 * precision * recall_value / (precision + recall_value) == pytest.approx(f1)
    assert metrics.average_precision_score(scores, labels) == pytest.approx(sklearn_ap(labels, scores))


def test_binary_perfectly_separable():
    scores = np.array([0.9, 0.8, 0.3, 0.1])
    labels = np.array([1, 1, 0, 0])
    assert metrics.best_accuracy(scores, labels) == (1.0, pytest.approx(0.55))
    assert metrics.best_f1(scores, labels)[0] == 1.0
    assert metrics.average_precision_score(scores, labels) == 1.0


def test_binary_rejects_non_binary_labels():
    with pytest.raises(ValueError, match="0 or 1"):
        metrics.best_accuracy(np.array([0.1, 0.2]), np.array([0, 2]))


def test_knn_accuracy_by_hand():
    embeddings = np.array([[1.0, 0.0], [1.0, 0.1], [0.6, 0.8], [0.0, 1.0]])
    # Nearest other rows: 0→1 (cos 0.995), 1→0, 2→3 (cos 0.8 against 0.677 to row 1), 3→2.
    labels = np.array([0, 0, 1, 1])
    assert metrics.knn_accuracy(embeddings, labels) == 1.0
    assert metrics.knn_accuracy(embeddings, np.array([0, 1, 1, 1])) == pytest.approx(2 / 4)  # rows 0, 1 miss
    # Scale does not matter (cosine), and a row is never its own neighbour.
    assert metrics.knn_accuracy(embeddings * 7.0, labels) == 1.0
    assert metrics.knn_accuracy(np.array([[1.0, 0.0], [1.0, 0.0]]), np.array([0, 1])) == 0.0


def test_knn_accuracy_needs_two_rows_and_a_label_each():
    with pytest.raises(ValueError, match="at least 2 rows"):
        metrics.knn_accuracy(np.ones((1, 2)), np.array([0]))
    with pytest.raises(ValueError, match="one label per row"):
        metrics.knn_accuracy(np.ones((3, 2)), np.array([0, 1]))
