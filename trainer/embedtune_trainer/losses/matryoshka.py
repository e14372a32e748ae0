"""MatryoshkaLoss: train embeddings whose prefixes are good embeddings too.

Input: whatever the wrapped loss takes. The batch is embedded once; the wrapped loss's
maths then runs on the embeddings truncated to each of `matryoshka_dims` and
re-normalised to unit length, and the weighted results are summed:

    loss = sum_k w_k * inner(normalize(E[:, :d_k]), labels)

After training, an index can keep only the first d_k dimensions of each vector and lose
little quality. Defaults as in sentence-transformers: weight 1 per dimension, all
dimensions every step (`n_dims_per_step=-1`). Paper: Kusupati et al. 2022, "Matryoshka
Representation Learning" (arXiv:2205.13147).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from embedtune_trainer.losses.base import EmbeddingLoss, Features
from embedtune_trainer.losses.gradcache import EmbeddingCompute, GradCachedLoss

logger = logging.getLogger(__name__)


def truncate(embeddings: torch.Tensor, dim: int) -> torch.Tensor:
    """First `dim` components, scaled back to unit length."""
    if dim > embeddings.shape[-1]:
        raise ValueError(f"matryoshka dimension {dim} exceeds the embedding size {embeddings.shape[-1]}")
    return F.normalize(embeddings[..., :dim], p=2, dim=-1)


def matryoshka_loss(
    embeddings: list[torch.Tensor],
    labels: torch.Tensor | None,
    inner: EmbeddingCompute,
    dims: Sequence[int],
    weights: Sequence[float],
) -> torch.Tensor:
    """Weighted sum of `inner` on the embeddings truncated to each of `dims`."""
    losses = [
        weight * inner([truncate(e, dim) for e in embeddings], labels)
        for dim, weight in zip(dims, weights, strict=True)
    ]
    return torch.stack(losses).sum()


class MatryoshkaLoss(EmbeddingLoss):
    """Wraps an embedding loss so that every prefix in `matryoshka_dims` is trained.

    GradCache losses (CachedMultipleNegativesRankingLoss, MegaBatchMarginLoss) are wrapped
    by handing them the Matryoshka maths to run on their cached embeddings; any other loss
    that overrides `forward` is refused, since its embeddings cannot be intercepted.
    """

    def __init__(
        self,
        model: nn.Module,
        loss: EmbeddingLoss,
        matryoshka_dims: Sequence[int],
        matryoshka_weights: Sequence[float] | None = None,
        n_dims_per_step: int = -1,
    ) -> None:
        super().__init__(model)
        if type(loss).forward is not EmbeddingLoss.forward and not isinstance(loss, GradCachedLoss):
            raise ValueError(
                f"MatryoshkaLoss cannot wrap {type(loss).__name__}: it overrides forward, so its "
                "embeddings cannot be truncated; wrap a loss that computes on embeddings instead"
            )
        own_parameters = [name for name, _ in loss.named_parameters() if not name.startswith("model.")]
        if own_parameters:
            raise ValueError(
                f"MatryoshkaLoss cannot wrap {type(loss).__name__}: its own parameters "
                f"({', '.join(own_parameters)}) are sized for full embeddings, not truncated ones"
            )
        if loss.model is not model:
            raise ValueError("MatryoshkaLoss and the loss it wraps must share the same model")
        if not matryoshka_dims:
            raise ValueError("matryoshka_dims must name at least one dimension")
        if any(dim <= 0 for dim in matryoshka_dims):
            raise ValueError(f"matryoshka_dims must all be > 0, got {list(matryoshka_dims)}")
        if matryoshka_weights is None:
            matryoshka_weights = [1.0] * len(matryoshka_dims)
        if len(matryoshka_weights) != len(matryoshka_dims):
            raise ValueError(
                f"matryoshka_weights has {len(matryoshka_weights)} entries, "
                f"matryoshka_dims has {len(matryoshka_dims)}: they must match"
            )
        model_dim = getattr(model, "dimension", None)
        if model_dim is not None:
            too_big = [dim for dim in matryoshka_dims if dim > model_dim]
            if too_big:
                raise ValueError(f"matryoshka_dims {too_big} exceed the model's embedding size {model_dim}")
            if model_dim not in matryoshka_dims:
                logger.warning("matryoshka_dims leave out the full size %d: it goes untrained", model_dim)
        pairs = sorted(zip(matryoshka_dims, matryoshka_weights, strict=True), reverse=True)
        self.matryoshka_dims = tuple(dim for dim, _ in pairs)
        self.matryoshka_weights = tuple(weight for _, weight in pairs)
        self.n_dims_per_step = n_dims_per_step
        self.loss = loss
        # The wrapper accepts exactly the data its inner loss accepts.
        self.shapes = loss.shapes
        self.label_kind = loss.label_kind

    def forward(self, features: list[Features], labels: torch.Tensor | None) -> torch.Tensor:
        if isinstance(self.loss, GradCachedLoss):
            return self.loss.forward_with(features, labels, self.compute)
        return self.compute(self.embed(features), labels)

    def compute(self, embeddings: list[torch.Tensor], labels: torch.Tensor | None) -> torch.Tensor:
        chosen = range(len(self.matryoshka_dims))
        if 0 < self.n_dims_per_step < len(chosen):
            chosen = sorted(torch.randperm(len(chosen))[: self.n_dims_per_step].tolist())
        return matryoshka_loss(
            embeddings,
            labels,
            self.loss.compute,
            [self.matryoshka_dims[i] for i in chosen],
            [self.matryoshka_weights[i] for i in chosen],
        )

    def config(self) -> dict:
        return {
            "loss": type(self.loss).__name__,
            "loss_config": self.loss.config(),
            "matryoshka_dims": list(self.matryoshka_dims),
            "matryoshka_weights": list(self.matryoshka_weights),
            "n_dims_per_step": self.n_dims_per_step,
        }
