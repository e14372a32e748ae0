"""MegaBatchMarginLoss: each anchor must be close to its positive and far from the
hardest other positive in a very large batch.

Input: (anchor, positive) pairs (DataShape.POSITIVE_PAIR), no label. With c_ij the cosine
of anchor i and positive j:

    loss = mean_i [ max(0, positive_margin - c_ii) + max(0, max_{j != i} c_ij - negative_margin) ]

Needs a big batch (~500+) to find good negatives, so by default it embeds in mini-batches
with GradCache (the value and gradients are the same either way).
Defaults as in sentence-transformers: positive_margin 0.8, negative_margin 0.3,
mini-batches of 50. Paper: Wieting and Gimpel 2018, "ParaNMT-50M" (ACL, arXiv:1711.05732).
"""

from __future__ import annotations

from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from embedtune_trainer.data.shapes import DataShape
from embedtune_trainer.losses.checks import expect_columns
from embedtune_trainer.losses.geometry import similarity_matrix
from embedtune_trainer.losses.gradcache import GradCachedLoss


def mega_batch_margin_loss(
    anchors: torch.Tensor,
    positives: torch.Tensor,
    positive_margin: float = 0.8,
    negative_margin: float = 0.3,
) -> torch.Tensor:
    """Hinge on the own-positive cosine plus hinge on the hardest in-batch negative cosine."""
    cosines = similarity_matrix(anchors, positives, "cosine")
    own = torch.eye(len(anchors), dtype=torch.bool, device=anchors.device)
    positive = cosines.diagonal()
    hardest_negative = cosines.masked_fill(own, -torch.inf).amax(dim=1)
    return (F.relu(positive_margin - positive) + F.relu(hardest_negative - negative_margin)).mean()


class MegaBatchMarginLoss(GradCachedLoss):
    """Hardest-negative margin loss for (anchor, positive) pairs in very large batches."""

    shapes: ClassVar[frozenset[DataShape]] = frozenset({DataShape.POSITIVE_PAIR})
    label_kind: ClassVar[str | None] = None

    def __init__(
        self,
        model: nn.Module,
        positive_margin: float = 0.8,
        negative_margin: float = 0.3,
        mini_batch_size: int | None = 50,
    ) -> None:
        super().__init__(model, mini_batch_size)
        self.positive_margin = positive_margin
        self.negative_margin = negative_margin

    def compute(self, embeddings: list[torch.Tensor], labels: torch.Tensor | None) -> torch.Tensor:
        expect_columns(type(self).__name__, embeddings, 2, 2)
        return mega_batch_margin_loss(*embeddings, self.positive_margin, self.negative_margin)

    def config(self) -> dict:
        return {
            "positive_margin": self.positive_margin,
            "negative_margin": self.negative_margin,
            "mini_batch_size": self.mini_batch_size,
        }
