"""ContrastiveLoss: similar pairs are pulled together, dissimilar ones pushed past a margin.

Input: (text1, text2, label) with label 1 = similar, 0 = dissimilar (DataShape.LABELED_PAIR,
int labels).

    loss_i = 1/2 * ( y_i * d_i^2 + (1 - y_i) * max(0, margin - d_i)^2 ),  d_i = d(u_i, v_i)
    loss   = mean_i loss_i   (sum with size_average=False)

Defaults as in sentence-transformers: cosine distance (1 - cos), margin 0.5, mean.
Euclidean and manhattan use torch.pairwise_distance's convention (||u - v + 1e-6||).
Paper: Hadsell, Chopra, LeCun 2006, "Dimensionality Reduction by Learning an Invariant
Mapping" (CVPR).
"""

from __future__ import annotations

from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from embedtune_trainer.data.shapes import DataShape
from embedtune_trainer.losses.base import EmbeddingLoss
from embedtune_trainer.losses.checks import expect_binary, expect_columns, expect_labels
from embedtune_trainer.losses.geometry import DISTANCES, Distance, check_choice, paired_distance

# torch.pairwise_distance adds this to u - v; sentence-transformers measures with it.
PAIRWISE_DISTANCE_OFFSET = 1e-6


def contrastive_loss(
    u: torch.Tensor,
    v: torch.Tensor,
    labels: torch.Tensor,
    distance: Distance = "cosine",
    margin: float = 0.5,
    size_average: bool = True,
) -> torch.Tensor:
    """Squared distance for similar pairs, squared hinge below `margin` for dissimilar ones."""
    d = paired_distance(u, v, distance, PAIRWISE_DISTANCE_OFFSET)
    y = labels.to(d.dtype)
    losses = 0.5 * (y * d.pow(2) + (1 - y) * F.relu(margin - d).pow(2))
    return losses.mean() if size_average else losses.sum()


class ContrastiveLoss(EmbeddingLoss):
    """Binary-labelled pairs: the default for LABELED_PAIR data with int labels."""

    shapes: ClassVar[frozenset[DataShape]] = frozenset({DataShape.LABELED_PAIR})
    label_kind: ClassVar[str | None] = "int"

    def __init__(
        self, model: nn.Module, distance: Distance = "cosine", margin: float = 0.5, size_average: bool = True
    ) -> None:
        super().__init__(model)
        check_choice("distance", distance, DISTANCES)
        self.distance = distance
        self.margin = margin
        self.size_average = size_average

    def compute(self, embeddings: list[torch.Tensor], labels: torch.Tensor | None) -> torch.Tensor:
        name = type(self).__name__
        expect_columns(name, embeddings, 2, 2)
        labels = expect_labels(name, labels, embeddings[0].shape[0])
        expect_binary(name, labels)
        return contrastive_loss(*embeddings, labels, self.distance, self.margin, self.size_average)

    def config(self) -> dict:
        return {"distance": self.distance, "margin": self.margin, "size_average": self.size_average}
