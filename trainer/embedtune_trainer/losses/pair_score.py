"""What every cross-encoder loss is: maths on the logits a CrossEncoder gives each (text1, text2) pair.

A cross-encoder reads the pair as one sequence, so a batch is one tokenised column of
pairs and "embedding" it yields one tensor: the logits (batch, num_labels). Triplets
reach these losses already expanded to a positive (1) and a negative (0) pair
(`cross_encoder.pairs`), so every cross-encoder loss trains on LABELED_PAIR data.

Each loss also says how big a head it trains (`one_logit`) and which activation turns
its logits into the scores it was trained to give (`activation`), which the trained
folder records for `predict` and the server.
"""

from __future__ import annotations

from typing import ClassVar

import torch

from embedtune_trainer.cross_encoder.activation import Activation
from embedtune_trainer.data.shapes import DataShape
from embedtune_trainer.losses.base import EmbeddingLoss, Features
from embedtune_trainer.losses.checks import expect_columns, expect_labels
from embedtune_trainer.model_kind import ModelKind


class PairScoreLoss(EmbeddingLoss):
    """Base class: `compute([logits], labels)`; subclasses set the label kind, head size and activation."""

    shapes: ClassVar[frozenset[DataShape]] = frozenset({DataShape.LABELED_PAIR})
    model_kind: ClassVar[ModelKind] = ModelKind.CROSS_ENCODER
    one_logit: ClassVar[bool] = True  # False: one logit per class
    activation: ClassVar[Activation] = Activation.SIGMOID

    def embed(self, features: list[Features]) -> list[torch.Tensor]:
        return [self.model(f)["logits"] for f in features]

    def logits_and_labels(
        self, embeddings: list[torch.Tensor], labels: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The batch's logits and one finite label per pair; a one-logit loss gets (batch,) logits."""
        name = type(self).__name__
        expect_columns(name, embeddings, 1, 1)
        (logits,) = embeddings
        labels = expect_labels(name, labels, logits.shape[0])
        if self.one_logit:
            if logits.shape[1] != 1:
                raise ValueError(f"{name} trains a one-logit head; the model has {logits.shape[1]} labels")
            logits = logits[:, 0]
        return logits, labels
