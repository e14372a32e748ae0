"""Several datasets behind one index, each row tagged with the dataset it came from.

A run over several datasets (one per feedback kind, each with its own loss) gives the
Trainer one dataset: indices 0..len(parts[0])-1 are the first part's rows, the next ones
the second part's, and so on. Every row carries its part's position under `DATASET_KEY`,
so the collator can tokenise it with its part's columns and the loss module can send the
batch to its part's loss. A batch never mixes parts (see `InterleavedBatchSampler`).
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from typing import Any

import datasets
from torch.utils.data import Dataset

# Not a canonical column name (those are text columns and "label"), so it cannot collide.
DATASET_KEY = "dataset"


class DatasetMix(Dataset):
    """The concatenation of `parts`; row i of part p is at index `offsets[p] + i`."""

    def __init__(self, parts: Sequence[datasets.Dataset]) -> None:
        if not parts:
            raise ValueError("a dataset mix needs at least one dataset")
        self.parts = list(parts)
        self.offsets = [0]
        for part in self.parts[:-1]:
            self.offsets.append(self.offsets[-1] + len(part))

    def __len__(self) -> int:
        return self.offsets[-1] + len(self.parts[-1])

    def __getitem__(self, index: int) -> dict[str, Any]:
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} rows")
        part = bisect.bisect_right(self.offsets, index) - 1
        return {**self.parts[part][index - self.offsets[part]], DATASET_KEY: part}
