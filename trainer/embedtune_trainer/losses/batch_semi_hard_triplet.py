"""BatchSemiHardTripletLoss: each (anchor, positive) pair against its semi-hard negative.

Input: (text, class) (DataShape.LABELED_TEXT, int labels); see `batch_triplet`.

The semi-hard negative of (a, p) is the closest negative that is still farther from a
than p is; if there is none, the farthest negative (FaceNet's rule, which avoids the
collapse that the very hardest negatives cause early in training). Over the P positive
pairs:

    loss = sum_{(a, p)} max(0, d(a, p) - d(a, n_semi(a, p)) + margin) / P

An anchor with no negative in the batch falls back to its smallest distance, as the
reference does. Defaults as in sentence-transformers: euclidean distance, margin 5.
Papers: Schroff et al. 2015, "FaceNet" (arXiv:1503.03832); Hermans et al. 2017
(arXiv:1703.07737).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from embedtune_trainer.losses.batch_triplet import BatchTripletLoss, positive_pairs, same_class
from embedtune_trainer.losses.geometry import MatrixDistance, distance_matrix


def semi_hard_negative_distances(distances: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """(n, n): for anchor a and candidate positive p, d(a, n) of the semi-hard negative."""
    same = same_class(labels)
    # Each row's negative distances in ascending order, same-class entries pushed to +inf;
    # the first one strictly above d(a, p) is the semi-hard negative.
    ascending = distances.masked_fill(same, torch.inf).sort(dim=1).values
    first_above = torch.searchsorted(ascending.detach(), distances.detach().contiguous(), right=True)
    semi_hard = ascending.gather(1, first_above.clamp(max=len(labels) - 1))
    farthest = distances.masked_fill(same, -torch.inf).amax(dim=1, keepdim=True)
    fallback = torch.where(torch.isfinite(farthest), farthest, distances.amin(dim=1, keepdim=True))
    return torch.where(torch.isfinite(semi_hard), semi_hard, fallback)


def batch_semi_hard_triplet_loss(
    embeddings: torch.Tensor,
    labels: torch.Tensor,
    distance: MatrixDistance = "euclidean",
    margin: float = 5.0,
) -> torch.Tensor:
    """Mean hinge over positive pairs, each against its semi-hard negative."""
    distances = distance_matrix(embeddings, distance)
    positives = positive_pairs(labels)
    losses = F.relu(distances - semi_hard_negative_distances(distances, labels) + margin) * positives
    return losses.sum() / positives.sum().clamp(min=1e-16)


class BatchSemiHardTripletLoss(BatchTripletLoss):
    """Semi-hard triplet mining for class-labelled texts."""

    def compute(self, embeddings: list[torch.Tensor], labels: torch.Tensor | None) -> torch.Tensor:
        texts, classes = self.checked_inputs(embeddings, labels)
        return batch_semi_hard_triplet_loss(texts, classes, self.distance, self.margin)
