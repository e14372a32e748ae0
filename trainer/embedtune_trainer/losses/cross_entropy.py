"""CrossEntropyLoss: a cross-encoder with one logit per class, trained on class ids.

Input: (text1, text2, label) with label a class id in [0, num_labels), e.g. NLI's
entailment / neutral / contradiction.

    loss = mean_i cross_entropy(logits_i, label_i)

The head has one logit per class; the trained folder's activation is Identity, as
sentence-transformers gives an N-class CrossEncoder by default (argmax is the class).
As sentence-transformers' cross-encoder CrossEntropyLoss.
"""

from __future__ import annotations

from typing import ClassVar

import torch
import torch.nn.functional as F

from embedtune_trainer.cross_encoder.activation import Activation
from embedtune_trainer.losses.checks import expect_class_ids
from embedtune_trainer.losses.pair_score import PairScoreLoss


class CrossEntropyLoss(PairScoreLoss):
    label_kind: ClassVar[str | None] = "int"
    one_logit: ClassVar[bool] = False
    activation: ClassVar[Activation] = Activation.IDENTITY

    def compute(self, embeddings: list[torch.Tensor], labels: torch.Tensor | None) -> torch.Tensor:
        logits, labels = self.logits_and_labels(embeddings, labels)
        expect_class_ids(type(self).__name__, labels, logits.shape[1])
        return F.cross_entropy(logits, labels)
