"""What every loss is: maths on sentence embeddings, wrapped for the training loop.

A loss module receives the tokenised text columns of a batch, runs the encoder on
each, and hands the embeddings to `compute`. `compute` holds the maths and takes
plain tensors, so a test can call it on raw embeddings. Losses that need more than
one pass through the encoder (GradCache) override `forward` instead.
"""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import nn

from embedtune_trainer.data.shapes import DataShape
from embedtune_trainer.model_kind import ModelKind

Features = dict[str, torch.Tensor]


class EmbeddingLoss(nn.Module):
    """Base class: subclasses set `shapes` and `label_kind` and implement `compute`."""

    # The data shapes this loss can train on.
    shapes: ClassVar[frozenset[DataShape]] = frozenset()
    # "float", "int" or None (no label): checked against the data before training.
    label_kind: ClassVar[str | None] = None
    # The kind of model the loss trains (cross-encoder losses: `pair_score.PairScoreLoss`).
    model_kind: ClassVar[ModelKind] = ModelKind.BI_ENCODER

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def embed(self, features: list[Features]) -> list[torch.Tensor]:
        """One embedding tensor (batch, dim) per text column."""
        return [self.model(f)["sentence_embedding"] for f in features]

    def forward(self, features: list[Features], labels: torch.Tensor | None) -> torch.Tensor:
        return self.compute(self.embed(features), labels)

    def compute(self, embeddings: list[torch.Tensor], labels: torch.Tensor | None) -> torch.Tensor:
        raise NotImplementedError

    def config(self) -> dict:
        """Hyperparameters, for the model card and embedtune.json."""
        return {}
