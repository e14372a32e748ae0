"""Input checks shared by the losses, so a bad batch fails with a message, not a shape error.

Every check names the loss, the offending row and the limit it broke; they run inside
`compute`, so calling a loss on raw tensors is checked the same way as training is.
"""

from __future__ import annotations

import torch


def expect_columns(loss_name: str, embeddings: list[torch.Tensor], fewest: int, most: int | None) -> None:
    """Between `fewest` and `most` (None: no limit) text columns, all (batch, dim) of one batch size."""
    if len(embeddings) < fewest or (most is not None and len(embeddings) > most):
        if most == fewest:
            wanted = str(fewest)
        elif most is None:
            wanted = f"at least {fewest}"
        else:
            wanted = f"{fewest} to {most}"
        raise ValueError(f"{loss_name} expects {wanted} text columns, got {len(embeddings)}")
    sizes = {e.shape[0] for e in embeddings}
    if len(sizes) > 1:
        raise ValueError(f"{loss_name}: text columns have different batch sizes {sorted(sizes)}")
    for index, e in enumerate(embeddings):
        if e.ndim != 2:
            raise ValueError(
                f"{loss_name}: column {index} embeddings must be (batch, dim), got shape {tuple(e.shape)}"
            )


def expect_labels(loss_name: str, labels: torch.Tensor | None, batch_size: int) -> torch.Tensor:
    """One finite label per row, returned flattened."""
    if labels is None:
        raise ValueError(f"{loss_name} needs labels, got None")
    if labels.numel() != batch_size:
        raise ValueError(
            f"{loss_name} expects one label per row ({batch_size}), got {labels.numel()} "
            f"with shape {tuple(labels.shape)}"
        )
    labels = labels.reshape(-1)
    if labels.is_floating_point():
        bad = ~torch.isfinite(labels)
        if bad.any():
            raise ValueError(f"{loss_name}: label in row {_first(bad)} is {labels[_first(bad)].item()}")
    return labels


def expect_class_ids(loss_name: str, labels: torch.Tensor, num_classes: int | None = None) -> None:
    """Integer class ids, non-negative and (when `num_classes` is known) below it."""
    if labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool:
        raise ValueError(f"{loss_name} needs integer class labels, got dtype {labels.dtype}")
    _expect_range(loss_name, labels, 0, None if num_classes is None else num_classes - 1)


def expect_binary(loss_name: str, labels: torch.Tensor) -> None:
    """Labels 0 (dissimilar) or 1 (similar) only."""
    outside = (labels != 0) & (labels != 1)
    if outside.any():
        row = _first(outside)
        raise ValueError(f"{loss_name} needs labels 0 or 1, row {row} has {labels[row].item()}")


def expect_score_range(loss_name: str, labels: torch.Tensor, low: float, high: float) -> None:
    """Float scores inside [low, high]."""
    _expect_range(loss_name, labels, low, high)


def _expect_range(loss_name: str, labels: torch.Tensor, low: float, high: float | None) -> None:
    outside = labels < low
    if high is not None:
        outside |= labels > high
    if outside.any():
        row = _first(outside)
        limit = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise ValueError(f"{loss_name}: label in row {row} is {labels[row].item()}, must be {limit}")


def _first(mask: torch.Tensor) -> int:
    return int(mask.nonzero()[0, 0])
