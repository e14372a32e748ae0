"""TripletLoss: the anchor must be closer to its positive than to its negative by a margin.

Input: (anchor, positive, negative) texts, no label (DataShape.TRIPLET).

    loss = mean_i max(0, d(a_i, p_i) - d(a_i, n_i) + margin)

with d euclidean (default), cosine (1 - cos) or manhattan. Defaults as in
sentence-transformers: euclidean, margin 5. Paper: Schroff et al. 2015, "FaceNet"
(arXiv:1503.03832); Hermans et al. 2017, "In Defense of the Triplet Loss" (arXiv:1703.07737).
"""

from __future__ import annotations

from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from embedtune_trainer.data.shapes import DataShape
from embedtune_trainer.losses.base import EmbeddingLoss
from embedtune_trainer.losses.checks import expect_columns
from embedtune_trainer.losses.geometry import DISTANCES, Distance, check_choice, paired_distance


def triplet_loss(
    anchor: torch.Tensor,
    positive: torch.Tensor,
    negative: torch.Tensor,
    distance: Distance = "euclidean",
    margin: float = 5.0,
) -> torch.Tensor:
    """Mean hinge on d(anchor, positive) - d(anchor, negative) + margin."""
    gap = paired_distance(anchor, positive, distance) - paired_distance(anchor, negative, distance)
    return F.relu(gap + margin).mean()


class TripletLoss(EmbeddingLoss):
    """Pulls each anchor towards its positive and away from its negative."""

    shapes: ClassVar[frozenset[DataShape]] = frozenset({DataShape.TRIPLET})
    label_kind: ClassVar[str | None] = None

    def __init__(self, model: nn.Module, distance: Distance = "euclidean", margin: float = 5.0) -> None:
        super().__init__(model)
        check_choice("distance", distance, DISTANCES)
        self.distance = distance
        self.margin = margin

    def compute(self, embeddings: list[torch.Tensor], labels: torch.Tensor | None) -> torch.Tensor:
        expect_columns(type(self).__name__, embeddings, 3, 3)
        return triplet_loss(*embeddings, distance=self.distance, margin=self.margin)

    def config(self) -> dict:
        return {"distance": self.distance, "margin": self.margin}
