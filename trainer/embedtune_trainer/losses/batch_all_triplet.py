"""BatchAllTripletLoss: every valid (anchor, positive, negative) triplet in the batch.

Input: (text, class) (DataShape.LABELED_TEXT, int labels); see `batch_triplet`.
Triplets: a != p with y_a = y_p, and y_n != y_a. Averaged over the triplets that still
have a loss, so easy triplets do not dilute the signal as training progresses:

    l_apn = max(0, d(a, p) - d(a, n) + margin)
    loss  = sum l_apn / (#{l_apn > 1e-16} + 1e-16)

Defaults as in sentence-transformers: euclidean distance, margin 5. Paper: Hermans et al.
2017, "In Defense of the Triplet Loss for Person Re-Identification" (arXiv:1703.07737).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from embedtune_trainer.losses.batch_triplet import BatchTripletLoss, positive_pairs
from embedtune_trainer.losses.geometry import MatrixDistance, distance_matrix

# Below this a triplet counts as solved; also keeps the average finite when all are.
SOLVED = 1e-16


def batch_all_triplet_loss(
    embeddings: torch.Tensor,
    labels: torch.Tensor,
    distance: MatrixDistance = "euclidean",
    margin: float = 5.0,
) -> torch.Tensor:
    """Sum of hinge losses over all valid triplets, divided by the number still active."""
    distances = distance_matrix(embeddings, distance)
    # One row per (anchor, positive) pair, one column per candidate negative: memory is
    # pairs x batch rather than batch^3.
    anchor, positive = positive_pairs(labels).nonzero(as_tuple=True)
    is_negative = labels[anchor, None] != labels[None, :]
    gaps = distances[anchor, positive, None] - distances[anchor] + margin
    losses = F.relu(gaps) * is_negative
    active = (losses > SOLVED).sum()
    return losses.sum() / (active + SOLVED)


class BatchAllTripletLoss(BatchTripletLoss):
    """All-triplets loss for class-labelled texts: the default for LABELED_TEXT data."""

    def compute(self, embeddings: list[torch.Tensor], labels: torch.Tensor | None) -> torch.Tensor:
        return batch_all_triplet_loss(*self.checked_inputs(embeddings, labels), self.distance, self.margin)
