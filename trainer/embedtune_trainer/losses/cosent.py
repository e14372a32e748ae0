"""CoSENTLoss: rank pairs by similarity so that higher-scored pairs get higher cosines.

Input: (text1, text2, score) with any float score (DataShape.LABELED_PAIR, float labels);
only the order of the scores matters.

With s_i = scale * sim(u_i, v_i):

    loss = log(1 + sum_{(i, j): score_i > score_j} exp(s_j - s_i))

Defaults as in sentence-transformers: scale 20, cosine similarity. Paper: Su 2022,
"CoSENT" (kexue.fm/archives/8847); Huang et al. 2024, "CoSENT: Consistent Sentence
Embedding via Similarity Ranking" (IEEE/ACM TASLP, doi:10.1109/TASLP.2024.3402087).
"""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import nn

from embedtune_trainer.data.shapes import DataShape
from embedtune_trainer.losses.base import EmbeddingLoss
from embedtune_trainer.losses.checks import expect_columns, expect_labels
from embedtune_trainer.losses.geometry import SIMILARITIES, Similarity, check_choice, paired_similarity


def cosent_loss(
    u: torch.Tensor,
    v: torch.Tensor,
    scores: torch.Tensor,
    scale: float = 20.0,
    similarity: Similarity = "cosine",
) -> torch.Tensor:
    """Log-sum-exp over every mis-orderable pair of pairs, with a 0 term for the "1 +"."""
    s = paired_similarity(u, v, similarity)
    if s.dtype in (torch.float16, torch.bfloat16):
        s = s.float()  # exp of differences of scaled scores overflows in half precision
    s = scale * s
    # margin[i, j] = s_j - s_i, counted where pair i should rank above pair j.
    margin = s[None, :] - s[:, None]
    should_rank_above = scores[:, None] > scores[None, :]
    terms = margin.masked_fill(~should_rank_above, -torch.inf).flatten()
    return torch.logsumexp(torch.cat([terms.new_zeros(1), terms]), dim=0)


class CoSENTLoss(EmbeddingLoss):
    """Similarity ranking over the batch; usually stronger than CosineSimilarityLoss."""

    shapes: ClassVar[frozenset[DataShape]] = frozenset({DataShape.LABELED_PAIR})
    label_kind: ClassVar[str | None] = "float"

    def __init__(self, model: nn.Module, scale: float = 20.0, similarity: Similarity = "cosine") -> None:
        super().__init__(model)
        check_choice("similarity", similarity, SIMILARITIES)
        self.scale = scale
        self.similarity = similarity

    def compute(self, embeddings: list[torch.Tensor], labels: torch.Tensor | None) -> torch.Tensor:
        name = type(self).__name__
        expect_columns(name, embeddings, 2, 2)
        labels = expect_labels(name, labels, embeddings[0].shape[0])
        return cosent_loss(*embeddings, labels, self.scale, self.similarity)

    def config(self) -> dict:
        return {"scale": self.scale, "similarity": self.similarity}
