"""Evaluation: metric maths (`metrics`), evaluators over an encoder, and loading evaluation sets."""

from embedtune_trainer.evaluation.evaluators import (
    BinaryClassificationEvaluator,
    Evaluator,
    RetrievalEvaluator,
    STSEvaluator,
    TripletEvaluator,
)

__all__ = [
    "BinaryClassificationEvaluator",
    "Evaluator",
    "RetrievalEvaluator",
    "STSEvaluator",
    "TripletEvaluator",
]
