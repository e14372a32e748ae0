"""CachedMultipleNegativesRankingLoss: MultipleNegativesRankingLoss with GradCache.

Input and formula: as MultipleNegativesRankingLoss (DataShape.POSITIVE_PAIR or TRIPLET).
The batch is embedded `mini_batch_size` rows at a time (see `gradcache`), so a batch of
thousands of pairs, which in-batch negatives reward, costs the memory of a mini-batch.
Loss value and parameter gradients equal the uncached loss's.

Defaults as in sentence-transformers: scale 20, cosine similarity, mini_batch_size 32.
Paper: Gao et al. 2021, "Scaling Deep Contrastive Learning Batch Size under Memory
Limited Setup" (arXiv:2101.06983).
"""

from __future__ import annotations

from torch import nn

from embedtune_trainer.losses.geometry import Similarity
from embedtune_trainer.losses.multiple_negatives_ranking import MultipleNegativesRankingLoss


class CachedMultipleNegativesRankingLoss(MultipleNegativesRankingLoss):
    """MultipleNegativesRankingLoss over a large batch at small-batch memory."""

    def __init__(
        self,
        model: nn.Module,
        scale: float = 20.0,
        similarity: Similarity = "cosine",
        symmetric: bool = False,
        mini_batch_size: int = 32,
    ) -> None:
        super().__init__(model, scale, similarity, symmetric, mini_batch_size)


class CachedMultipleNegativesSymmetricRankingLoss(CachedMultipleNegativesRankingLoss):
    """The symmetric variant (anchor→positive and positive→anchor) with GradCache."""

    def __init__(
        self,
        model: nn.Module,
        scale: float = 20.0,
        similarity: Similarity = "cosine",
        mini_batch_size: int = 32,
    ) -> None:
        super().__init__(model, scale, similarity, symmetric=True, mini_batch_size=mini_batch_size)
