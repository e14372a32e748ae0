"""MSELoss: regress a cross-encoder's one logit straight onto a score.

Input: (text1, text2, label) with label any finite float, e.g. an STS score or a teacher
model's score to distil.

    loss = mean_i (logit_i - label_i)^2

The logit itself is the score, so the trained folder's activation is Identity (where a
one-logit folder otherwise defaults to Sigmoid). As sentence-transformers' cross-encoder
MSELoss with its default (identity) activation.
"""

from __future__ import annotations

from typing import ClassVar

import torch
import torch.nn.functional as F

from embedtune_trainer.cross_encoder.activation import Activation
from embedtune_trainer.losses.pair_score import PairScoreLoss


class MSELoss(PairScoreLoss):
    label_kind: ClassVar[str | None] = "float"
    activation: ClassVar[Activation] = Activation.IDENTITY

    def compute(self, embeddings: list[torch.Tensor], labels: torch.Tensor | None) -> torch.Tensor:
        logits, labels = self.logits_and_labels(embeddings, labels)
        return F.mse_loss(logits, labels.to(logits.dtype))
