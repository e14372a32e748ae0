"""A batch of (text1, text2, label) rows as a cross-encoder loss's input: one tokenised column of pairs."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from embedtune_trainer.data import DataShape
from embedtune_trainer.data.columns import LABEL

TokenizePairs = Callable[[Sequence[tuple[str, str]]], dict[str, torch.Tensor]]


@dataclass
class PairCollator:
    """`{"features": [pairs tokenised together], "labels": tensor}`, the form `PairScoreLoss` reads."""

    tokenize: TokenizePairs
    label_dtype: torch.dtype | None

    def __call__(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        first, second = DataShape.LABELED_PAIR.text_columns
        batch: dict[str, Any] = {"features": [self.tokenize([(row[first], row[second]) for row in rows])]}
        if self.label_dtype is not None:
            batch["labels"] = torch.tensor([row[LABEL] for row in rows], dtype=self.label_dtype)
        return batch
