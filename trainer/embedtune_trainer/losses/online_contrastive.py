"""OnlineContrastiveLoss: ContrastiveLoss on the hard pairs of the batch only.

Input: (text1, text2, label) with label 1 = similar, 0 = dissimilar (DataShape.LABELED_PAIR,
int labels).

A positive pair is hard when it is farther apart than the closest negative pair; a
negative pair is hard when it is closer than the farthest positive pair (if the batch
has no negatives, positives farther than the positives' mean distance count as hard,
and the other way round). With d the pair distance:

    loss = sum_{hard positives} d^2 + sum_{hard negatives} max(0, margin - d)^2

Note the sum, not a mean. Defaults as in sentence-transformers: cosine distance,
margin 0.5. Idea: Hadsell et al. 2006 with online hard-pair mining (as in Hermans et al.
2017, arXiv:1703.07737).
"""

from __future__ import annotations

from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from embedtune_trainer.data.shapes import DataShape
from embedtune_trainer.losses.base import EmbeddingLoss
from embedtune_trainer.losses.checks import expect_binary, expect_columns, expect_labels
from embedtune_trainer.losses.contrastive import PAIRWISE_DISTANCE_OFFSET
from embedtune_trainer.losses.geometry import DISTANCES, Distance, check_choice, paired_distance


def online_contrastive_loss(
    u: torch.Tensor, v: torch.Tensor, labels: torch.Tensor, distance: Distance = "cosine", margin: float = 0.5
) -> torch.Tensor:
    """Contrastive loss summed over the positive and negative pairs that overlap in distance."""
    d = paired_distance(u, v, distance, PAIRWISE_DISTANCE_OFFSET)
    positive, negative = d[labels == 1], d[labels == 0]
    farthest_positive = positive.max() if len(positive) else negative.mean()
    closest_negative = negative.min() if len(negative) else positive.mean()
    hard_negative = negative[negative < farthest_positive]
    hard_positive = positive[positive > closest_negative]
    return hard_positive.pow(2).sum() + F.relu(margin - hard_negative).pow(2).sum()


class OnlineContrastiveLoss(EmbeddingLoss):
    """ContrastiveLoss restricted to the batch's hard pairs; often trains faster."""

    shapes: ClassVar[frozenset[DataShape]] = frozenset({DataShape.LABELED_PAIR})
    label_kind: ClassVar[str | None] = "int"

    def __init__(self, model: nn.Module, distance: Distance = "cosine", margin: float = 0.5) -> None:
        super().__init__(model)
        check_choice("distance", distance, DISTANCES)
        self.distance = distance
        self.margin = margin

    def compute(self, embeddings: list[torch.Tensor], labels: torch.Tensor | None) -> torch.Tensor:
        name = type(self).__name__
        expect_columns(name, embeddings, 2, 2)
        labels = expect_labels(name, labels, embeddings[0].shape[0])
        expect_binary(name, labels)
        return online_contrastive_loss(*embeddings, labels, self.distance, self.margin)

    def config(self) -> dict:
        return {"distance": self.distance, "margin": self.margin}
