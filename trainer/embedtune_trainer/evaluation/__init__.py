"""Evaluation: metric maths (`metrics`), evaluators over an encoder, and loading evaluation sets."""

from embedtune_trainer.evaluation.evaluators import (
    BinaryClassificationEvaluator,
    Evaluator,
    KNNEvaluator,
    RetrievalEvaluator,
    STSEvaluator,
    TripletEvaluator,
    evaluate_all,
    primary_key,
)

__all__ = [
    "BinaryClassificationEvaluator",
    "Evaluator",
    "KNNEvaluator",
    "RetrievalEvaluator",
    "STSEvaluator",
    "TripletEvaluator",
    "evaluate_all",
    "primary_key",
]
