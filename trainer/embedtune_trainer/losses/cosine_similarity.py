"""CosineSimilarityLoss: regress the pair's cosine similarity onto a gold score.

Input: (text1, text2, score) with score a float in [-1, 1] (DataShape.LABELED_PAIR, float
labels), e.g. STS scores rescaled from 0..5 to 0..1.

    loss = mean_i (cos(u_i, v_i) - score_i)^2

Default as in sentence-transformers: mean squared error, no transform of the cosine.
Paper: Reimers and Gurevych 2019, "Sentence-BERT" (arXiv:1908.10084).
"""

from __future__ import annotations

from typing import ClassVar

import torch
import torch.nn.functional as F

from embedtune_trainer.data.shapes import DataShape
from embedtune_trainer.losses.base import EmbeddingLoss
from embedtune_trainer.losses.checks import expect_columns, expect_labels, expect_score_range


def cosine_similarity_loss(u: torch.Tensor, v: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
    """Mean squared error between cos(u_i, v_i) and the gold scores."""
    return F.mse_loss(torch.cosine_similarity(u, v), scores.to(u.dtype))


class CosineSimilarityLoss(EmbeddingLoss):
    """Similarity regression: the default for LABELED_PAIR data with float labels."""

    shapes: ClassVar[frozenset[DataShape]] = frozenset({DataShape.LABELED_PAIR})
    label_kind: ClassVar[str | None] = "float"

    def compute(self, embeddings: list[torch.Tensor], labels: torch.Tensor | None) -> torch.Tensor:
        name = type(self).__name__
        expect_columns(name, embeddings, 2, 2)
        labels = expect_labels(name, labels, embeddings[0].shape[0])
        # A cosine never leaves [-1, 1]; a score outside it (say an unscaled 0..5 STS
        # score) is a data bug that the loss would silently chase forever.
        expect_score_range(name, labels, -1.0, 1.0)
        return cosine_similarity_loss(*embeddings, labels)
