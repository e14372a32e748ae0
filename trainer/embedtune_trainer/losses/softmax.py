"""SoftmaxLoss: a linear classifier on the pair's embeddings, trained with cross-entropy.

Input: (text1, text2, label) with label a class id in [0, num_labels) (DataShape.LABELED_PAIR,
int labels), e.g. NLI's entailment / neutral / contradiction.

    features = concat(u, v, |u - v|)        (u * v optional, u and v optional)
    loss     = cross_entropy(W @ features + b, label)

The classifier is part of the loss (it trains with the encoder and is thrown away after).
Defaults as in sentence-transformers: (u, v, |u - v|), no product. Paper: Reimers and
Gurevych 2019, "Sentence-BERT" (arXiv:1908.10084), following Conneau et al. 2017 (InferSent).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from embedtune_trainer.data.shapes import DataShape
from embedtune_trainer.losses.base import EmbeddingLoss
from embedtune_trainer.losses.checks import expect_class_ids, expect_columns, expect_labels


@dataclass(frozen=True)
class PairFeatures:
    """Which vectors the classifier sees, in this order: u, v, |u - v|, u * v."""

    embeddings: bool = True
    difference: bool = True
    product: bool = False

    @property
    def count(self) -> int:
        return 2 * self.embeddings + self.difference + self.product


def pair_features(u: torch.Tensor, v: torch.Tensor, parts: PairFeatures) -> torch.Tensor:
    """The classifier input for each pair."""
    vectors = []
    if parts.embeddings:
        vectors += [u, v]
    if parts.difference:
        vectors.append((u - v).abs())
    if parts.product:
        vectors.append(u * v)
    return torch.cat(vectors, dim=1)


def softmax_loss(
    u: torch.Tensor,
    v: torch.Tensor,
    labels: torch.Tensor,
    classifier: nn.Linear,
    parts: PairFeatures | None = None,
) -> torch.Tensor:
    """Cross-entropy of `classifier` on the pair features."""
    features = pair_features(u, v, parts or PairFeatures()).to(classifier.weight.dtype)
    return F.cross_entropy(classifier(features), labels)


class SoftmaxLoss(EmbeddingLoss):
    """Pair classification (NLI style); the classifier is a trained parameter of the loss."""

    shapes: ClassVar[frozenset[DataShape]] = frozenset({DataShape.LABELED_PAIR})
    label_kind: ClassVar[str | None] = "int"

    def __init__(
        self,
        model: nn.Module,
        num_labels: int,
        parts: PairFeatures | None = None,
        embedding_dimension: int | None = None,
    ) -> None:
        super().__init__(model)
        parts = parts or PairFeatures()
        if num_labels < 1:
            raise ValueError(f"num_labels must be >= 1, got {num_labels}")
        if parts.count == 0:
            raise ValueError("SoftmaxLoss needs at least one of embeddings, difference or product")
        dimension = embedding_dimension if embedding_dimension is not None else model.dimension
        parameter = next(model.parameters(), None)
        self.num_labels = num_labels
        self.parts = parts
        self.classifier = nn.Linear(
            parts.count * dimension,
            num_labels,
            device=None if parameter is None else parameter.device,
        )

    def compute(self, embeddings: list[torch.Tensor], labels: torch.Tensor | None) -> torch.Tensor:
        name = type(self).__name__
        expect_columns(name, embeddings, 2, 2)
        labels = expect_labels(name, labels, embeddings[0].shape[0])
        expect_class_ids(name, labels, self.num_labels)
        return softmax_loss(*embeddings, labels, self.classifier, self.parts)

    def config(self) -> dict:
        return {"num_labels": self.num_labels, **asdict(self.parts)}
