"""Turn a list of examples into the loss's input: tokenised text columns plus labels.

Each column is padded to its own longest text (dynamic padding). When the columns have
similar lengths, and the loss only needs embeddings (`merge_columns`), all columns are
tokenised as one batch instead, so the encoder runs one pass over 2-3× the rows rather
than 2-3 small passes: fewer, larger matrix products, which is faster on CPU and GPU.
Columns of very different lengths (short queries, long documents) stay separate, since
padding the short ones to the long ones would cost more than it saves.

`RoutingCollator` serves a run over several datasets (`dataset_mix`): each batch comes
from one dataset and is collated by that dataset's `EncoderCollator`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from embedtune_trainer.data.columns import LABEL
from embedtune_trainer.training.dataset_mix import DATASET_KEY

Tokenize = Callable[[list[str]], dict[str, torch.Tensor]]


@dataclass
class EncoderCollator:
    """`{"features": [...], "labels": tensor | None[, "column_sizes": [...]]}` for a batch of rows.

    Without "column_sizes", `features` holds one tokenised batch per column; with it,
    `features` is a single batch of every column's texts, column after column.
    """

    tokenize: Tokenize
    text_columns: Sequence[str]
    label_dtype: torch.dtype | None = None  # None: the loss takes no labels
    merge_columns: bool = False
    merge_slack: float = 1.25  # merge while padded tokens grow by at most this factor

    def __call__(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        columns = [[row[column] for row in rows] for column in self.text_columns]
        features = [self.tokenize(texts) for texts in columns]
        batch: dict[str, Any] = {"features": features}
        if self.merge_columns and len(columns) > 1 and merging_pays(features, self.merge_slack):
            batch["features"] = [self.tokenize([text for texts in columns for text in texts])]
            batch["column_sizes"] = [len(texts) for texts in columns]
        if self.label_dtype is not None:
            batch["labels"] = torch.tensor([row[LABEL] for row in rows], dtype=self.label_dtype)
        return batch


@dataclass
class RoutingCollator:
    """Collates a batch of `DatasetMix` rows with the collator of the dataset they came from.

    Adds "dataset" (the dataset's position) to the batch, which `LossModule` routes on.
    """

    collators: Sequence[EncoderCollator]

    def __call__(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        parts = {row[DATASET_KEY] for row in rows}
        if len(parts) != 1:
            raise ValueError(f"a batch must come from one dataset, got rows of datasets {sorted(parts)}")
        (part,) = parts
        batch = self.collators[part]([{k: v for k, v in row.items() if k != DATASET_KEY} for row in rows])
        return {**batch, DATASET_KEY: part}


def merging_pays(features: list[dict[str, torch.Tensor]], slack: float) -> bool:
    """True when one batch padded to the longest column costs at most `slack` × the separate batches."""
    shapes = [f["input_ids"].shape for f in features]
    separate = sum(rows * length for rows, length in shapes)
    merged = sum(rows for rows, _ in shapes) * max(length for _, length in shapes)
    return merged <= slack * separate
