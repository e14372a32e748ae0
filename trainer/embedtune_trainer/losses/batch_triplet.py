"""What the four batch-mined triplet losses share: label masks, hardest-pair mining, and the
(text, class) plumbing.

These losses take single texts with an int class label (DataShape.LABELED_TEXT) and form
triplets inside the batch: same class = positive, other class = negative. The batch needs
at least two classes with two texts each, or there is nothing to mine.
Paper: Hermans, Beyer, Leibe 2017, "In Defense of the Triplet Loss for Person
Re-Identification" (arXiv:1703.07737).
"""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import nn

from embedtune_trainer.data.shapes import DataShape
from embedtune_trainer.losses.base import EmbeddingLoss
from embedtune_trainer.losses.checks import expect_class_ids, expect_columns, expect_labels
from embedtune_trainer.losses.geometry import MATRIX_DISTANCES, MatrixDistance, check_choice


def same_class(labels: torch.Tensor) -> torch.Tensor:
    """(n, n) bool: rows i and j share a class (the diagonal included)."""
    return labels[:, None] == labels[None, :]


def positive_pairs(labels: torch.Tensor) -> torch.Tensor:
    """(n, n) bool: j is a positive for anchor i, i.e. same class and j != i."""
    own = torch.eye(len(labels), dtype=torch.bool, device=labels.device)
    return same_class(labels) & ~own


def hardest_distances(distances: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per anchor: distance to its farthest positive and to its closest negative.

    An anchor without positives gets 0; one without negatives gets its farthest distance,
    as the reference implementation does (the row maximum stands in for "no negative").
    """
    hardest_positive = (distances * positive_pairs(labels)).amax(dim=1)
    row_max = distances.amax(dim=1, keepdim=True)
    hardest_negative = (distances + row_max * same_class(labels)).amin(dim=1)
    return hardest_positive, hardest_negative


class BatchTripletLoss(EmbeddingLoss):
    """Base for the batch-mined triplet losses: settings and input checks; subclasses give `compute`."""

    shapes: ClassVar[frozenset[DataShape]] = frozenset({DataShape.LABELED_TEXT})
    label_kind: ClassVar[str | None] = "int"

    def __init__(self, model: nn.Module, distance: MatrixDistance = "euclidean", margin: float = 5.0) -> None:
        super().__init__(model)
        check_choice("distance", distance, MATRIX_DISTANCES)
        self.distance = distance
        self.margin = margin

    def checked_inputs(
        self, embeddings: list[torch.Tensor], labels: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The single text column and its flattened class ids, or a ValueError saying what is wrong."""
        name = type(self).__name__
        expect_columns(name, embeddings, 1, 1)
        labels = expect_labels(name, labels, embeddings[0].shape[0])
        expect_class_ids(name, labels)
        return embeddings[0], labels

    def config(self) -> dict:
        return {"distance": self.distance, "margin": self.margin}
