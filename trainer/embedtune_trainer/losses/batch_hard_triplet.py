"""BatchHardTripletLoss: per anchor, the triplet of its farthest positive and closest negative.

Input: (text, class) (DataShape.LABELED_TEXT, int labels); see `batch_triplet`.

    loss = mean_a max(0, max_{p: y_p = y_a} d(a, p) - min_{n: y_n != y_a} d(a, n) + margin)

Defaults as in sentence-transformers: euclidean distance, margin 5. Paper: Hermans et al.
2017, "In Defense of the Triplet Loss for Person Re-Identification" (arXiv:1703.07737).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from embedtune_trainer.losses.batch_triplet import BatchTripletLoss, hardest_distances
from embedtune_trainer.losses.geometry import MatrixDistance, distance_matrix


def batch_hard_triplet_loss(
    embeddings: torch.Tensor,
    labels: torch.Tensor,
    distance: MatrixDistance = "euclidean",
    margin: float = 5.0,
) -> torch.Tensor:
    """Mean hinge over each anchor's hardest positive and hardest negative."""
    hardest_positive, hardest_negative = hardest_distances(distance_matrix(embeddings, distance), labels)
    return F.relu(hardest_positive - hardest_negative + margin).mean()


class BatchHardTripletLoss(BatchTripletLoss):
    """Hardest-triplet mining for class-labelled texts; needs classes with hard examples."""

    def compute(self, embeddings: list[torch.Tensor], labels: torch.Tensor | None) -> torch.Tensor:
        return batch_hard_triplet_loss(*self.checked_inputs(embeddings, labels), self.distance, self.margin)
