"""BinaryCrossEntropyLoss: a cross-encoder's one logit, through a sigmoid, onto a target in [0, 1].

Input: (text1, text2, label) with label in [0, 1]: a relevance judgement (0/1, and
triplets expanded to a positive and a negative pair) or a scaled similarity score
(STSb's 0-5 divided by 5).

    loss = mean_i BCE(sigmoid(logit_i), label_i)     (computed from the logits, stably)

The trained folder's activation is Sigmoid, so `predict` gives scores in [0, 1].
As sentence-transformers' cross-encoder BinaryCrossEntropyLoss (its default for
scored and binary pairs), optionally with `pos_weight` for rare positives.
"""

from __future__ import annotations

from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from embedtune_trainer.cross_encoder.activation import Activation
from embedtune_trainer.losses.checks import expect_score_range
from embedtune_trainer.losses.pair_score import PairScoreLoss


class BinaryCrossEntropyLoss(PairScoreLoss):
    label_kind: ClassVar[str | None] = "float"
    activation: ClassVar[Activation] = Activation.SIGMOID

    def __init__(self, model: nn.Module, pos_weight: float | None = None) -> None:
        super().__init__(model)
        self.pos_weight = pos_weight

    def compute(self, embeddings: list[torch.Tensor], labels: torch.Tensor | None) -> torch.Tensor:
        logits, labels = self.logits_and_labels(embeddings, labels)
        # A sigmoid never leaves [0, 1]; a target outside it (an unscaled score, a class id) is a data bug.
        expect_score_range(type(self).__name__, labels, 0.0, 1.0)
        weight = None if self.pos_weight is None else torch.tensor(self.pos_weight, device=logits.device)
        return F.binary_cross_entropy_with_logits(logits, labels.to(logits.dtype), pos_weight=weight)

    def config(self) -> dict:
        return {"pos_weight": self.pos_weight}
