"""Turn a list of examples into the loss's input: one tokenised batch per text column.

Each column is padded to its own longest text (dynamic padding), which is where most
of the speed over fixed-length padding comes from.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from embedtune_trainer.data.columns import LABEL

Tokenize = Callable[[list[str]], dict[str, torch.Tensor]]


@dataclass
class EncoderCollator:
    """`{"features": [tokenised column, ...], "labels": tensor | None}` for a batch of rows."""

    tokenize: Tokenize
    text_columns: Sequence[str]
    label_dtype: torch.dtype | None = None  # None: the loss takes no labels

    def __call__(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        features = [self.tokenize([row[column] for row in rows]) for column in self.text_columns]
        batch: dict[str, Any] = {"features": features}
        if self.label_dtype is not None:
            batch["labels"] = torch.tensor([row[LABEL] for row in rows], dtype=self.label_dtype)
        return batch
