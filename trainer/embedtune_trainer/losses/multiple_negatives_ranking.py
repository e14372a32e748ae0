"""MultipleNegativesRankingLoss (InfoNCE with in-batch negatives), and its symmetric variant.

Input: (anchor, positive) pairs (DataShape.POSITIVE_PAIR), optionally with hard negatives
(anchor, positive, negative..., DataShape.TRIPLET); no label.

Each anchor a_i must pick its own positive p_i out of every positive and hard negative
in the batch (candidates c_j):

    loss = mean_i [ logsumexp_j(scale * sim(a_i, c_j)) - scale * sim(a_i, p_i) ]

The symmetric variant also asks each positive to pick its anchor out of all anchors and
averages the two directions:

    loss = mean_i ( forward_i + [ logsumexp_j(scale * sim(p_i, a_j)) - scale * sim(p_i, a_i) ] ) / 2

Defaults as in sentence-transformers: scale 20 (temperature 0.05), cosine similarity.
Papers: van den Oord et al. 2018, "Representation Learning with Contrastive Predictive
Coding" (arXiv:1807.03748); Henderson et al. 2017, "Efficient Natural Language Response
Suggestion for Smart Reply" (arXiv:1705.00652).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import torch
from torch import nn

from embedtune_trainer.data.shapes import DataShape
from embedtune_trainer.losses.checks import expect_columns
from embedtune_trainer.losses.geometry import SIMILARITIES, Similarity, check_choice, similarity_matrix
from embedtune_trainer.losses.gradcache import GradCachedLoss


def multiple_negatives_ranking_loss(
    anchors: torch.Tensor,
    positives: torch.Tensor,
    negatives: Sequence[torch.Tensor] = (),
    scale: float = 20.0,
    similarity: Similarity = "cosine",
    symmetric: bool = False,
) -> torch.Tensor:
    """Cross-entropy of each anchor over all candidates, its own positive being the target."""
    candidates = torch.cat([positives, *negatives])
    scores = scale * similarity_matrix(anchors, candidates, similarity)
    own = torch.arange(anchors.shape[0], device=anchors.device)
    positive_scores = scores[own, own]
    forward = torch.logsumexp(scores, dim=1) - positive_scores
    if not symmetric:
        return forward.mean()
    reverse_scores = scale * similarity_matrix(positives, anchors, similarity)
    backward = torch.logsumexp(reverse_scores, dim=1) - reverse_scores[own, own]
    return ((forward + backward) / 2).mean()


class MultipleNegativesRankingLoss(GradCachedLoss):
    """Contrastive loss with in-batch negatives: the default for (anchor, positive) data.

    `mini_batch_size=None` embeds the batch at once; an int embeds it in mini-batches
    with GradCache (see CachedMultipleNegativesRankingLoss).
    """

    shapes: ClassVar[frozenset[DataShape]] = frozenset({DataShape.POSITIVE_PAIR, DataShape.TRIPLET})
    label_kind: ClassVar[str | None] = None

    def __init__(
        self,
        model: nn.Module,
        scale: float = 20.0,
        similarity: Similarity = "cosine",
        symmetric: bool = False,
        mini_batch_size: int | None = None,
    ) -> None:
        super().__init__(model, mini_batch_size)
        if not scale > 0:
            raise ValueError(f"scale must be > 0, got {scale}")
        check_choice("similarity", similarity, SIMILARITIES)
        self.scale = scale
        self.similarity = similarity
        self.symmetric = symmetric

    def compute(self, embeddings: list[torch.Tensor], labels: torch.Tensor | None) -> torch.Tensor:
        expect_columns(type(self).__name__, embeddings, 2, None)
        anchors, positives, *negatives = embeddings
        return multiple_negatives_ranking_loss(
            anchors, positives, negatives, self.scale, self.similarity, self.symmetric
        )

    def config(self) -> dict:
        settings = {"scale": self.scale, "similarity": self.similarity, "symmetric": self.symmetric}
        if self.mini_batch_size is not None:
            settings["mini_batch_size"] = self.mini_batch_size
        return settings


class MultipleNegativesSymmetricRankingLoss(MultipleNegativesRankingLoss):
    """MultipleNegativesRankingLoss in both directions: anchor→positive and positive→anchor."""

    def __init__(
        self,
        model: nn.Module,
        scale: float = 20.0,
        similarity: Similarity = "cosine",
        mini_batch_size: int | None = None,
    ) -> None:
        super().__init__(model, scale, similarity, symmetric=True, mini_batch_size=mini_batch_size)
