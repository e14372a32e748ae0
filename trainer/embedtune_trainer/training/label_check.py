"""Check every label against the loss before step 1, with the loss's own rules.

Losses check their labels inside `compute` (binary for ContrastiveLoss, [-1, 1] for
CosineSimilarityLoss, class ids below num_labels for SoftmaxLoss, ...). Running `compute`
once over all labels on stand-in embeddings applies exactly those rules up front, so a
bad label fails in seconds with its row number instead of hours into a run.
"""

from __future__ import annotations

import torch

from embedtune_trainer.data import DataError
from embedtune_trainer.losses.base import EmbeddingLoss

_CHUNK = 512


def check_labels_against_loss(
    loss: EmbeddingLoss, labels: torch.Tensor, columns: int, dimension: int
) -> None:
    """Raise DataError naming the first row (1-based) whose label `loss` refuses."""
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for start in range(0, len(labels), _CHUNK):
            chunk = labels[start : start + _CHUNK]
            if _refusal(loss, chunk, columns, dimension, generator) is None:
                continue
            for offset in range(len(chunk)):
                reason = _refusal(loss, chunk[offset : offset + 1], columns, dimension, generator)
                if reason is not None:
                    row = start + offset + 1
                    raise DataError(f"row {row}: label {chunk[offset].item()} is refused by {reason}")
            reason = _refusal(loss, chunk, columns, dimension, generator)
            raise DataError(f"rows {start + 1}-{start + len(chunk)}: labels refused by {reason}")


def _refusal(
    loss: EmbeddingLoss, labels: torch.Tensor, columns: int, dimension: int, generator: torch.Generator
) -> str | None:
    device = next(loss.parameters()).device
    embeddings = [torch.randn(len(labels), dimension, generator=generator).to(device) for _ in range(columns)]
    try:
        loss.compute(embeddings, labels.to(device))
    except ValueError as exc:
        return f"{type(loss).__name__}: {exc}"
    return None
