"""BatchHardSoftMarginTripletLoss: batch-hard triplets with a soft margin instead of a hinge.

Input: (text, class) (DataShape.LABELED_TEXT, int labels); see `batch_triplet`.

    loss = mean_a log(1 + exp(max_{p: y_p = y_a} d(a, p) - min_{n: y_n != y_a} d(a, n)))

No margin to tune. Default as in sentence-transformers: euclidean distance. Paper: Hermans
et al. 2017, "In Defense of the Triplet Loss for Person Re-Identification" (arXiv:1703.07737).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from embedtune_trainer.losses.batch_triplet import BatchTripletLoss, hardest_distances
from embedtune_trainer.losses.geometry import MatrixDistance, distance_matrix


def batch_hard_soft_margin_triplet_loss(
    embeddings: torch.Tensor, labels: torch.Tensor, distance: MatrixDistance = "euclidean"
) -> torch.Tensor:
    """Mean softplus of hardest-positive minus hardest-negative distance."""
    hardest_positive, hardest_negative = hardest_distances(distance_matrix(embeddings, distance), labels)
    return F.softplus(hardest_positive - hardest_negative).mean()


class BatchHardSoftMarginTripletLoss(BatchTripletLoss):
    """Batch-hard triplet loss without a margin hyperparameter."""

    def __init__(self, model: nn.Module, distance: MatrixDistance = "euclidean") -> None:
        super().__init__(model, distance)

    def compute(self, embeddings: list[torch.Tensor], labels: torch.Tensor | None) -> torch.Tensor:
        return batch_hard_soft_margin_triplet_loss(*self.checked_inputs(embeddings, labels), self.distance)

    def config(self) -> dict:
        return {"distance": self.distance}
