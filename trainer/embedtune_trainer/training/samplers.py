"""Batch samplers: which rows train together.

- `NoDuplicatesBatchSampler`: for losses that use the other rows of a batch as negatives
  (MNRL and friends), a text repeated inside a batch would be its own "negative" and teach
  the model to push a text away from itself. Rows whose texts are already in the batch wait
  for a later one.
- `LengthGroupedBatchSampler`: rows of similar length share a batch, so dynamic padding
  pads little. Order is only local (within a window of batches), and the batches are then
  shuffled, so the training signal stays random.

- `InterleavedBatchSampler`: several datasets in one run (see `dataset_mix`). Each
  dataset's own sampler cuts its batches, so a batch never mixes datasets (each goes to
  one loss), and the batches of all datasets are shuffled together: every dataset is
  spread over the whole epoch in proportion to its number of batches.

All are deterministic given (seed, epoch), which is what resuming mid-epoch relies on:
the Trainer sets the epoch and skips the batches already trained.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch
from torch.utils.data import Sampler


class _EpochSeeded(Sampler[list[int]]):
    def __init__(self, batch_size: int, drop_last: bool, seed: int) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def _generator(self) -> torch.Generator:
        return torch.Generator().manual_seed(self.seed + self.epoch)


class NoDuplicatesBatchSampler(_EpochSeeded):
    """Random batches in which no text appears twice."""

    def __init__(
        self, rows: Sequence[Sequence[str]], batch_size: int, drop_last: bool = False, seed: int = 0
    ) -> None:
        super().__init__(batch_size, drop_last, seed)
        self.rows = [tuple(r) for r in rows]
        self._cache: tuple[int, list[list[int]]] | None = None

    def __iter__(self) -> Iterator[list[int]]:
        return iter(self._batches())

    def __len__(self) -> int:
        return len(self._batches())

    def _batches(self) -> list[list[int]]:
        """This epoch's batches, computed once per epoch so that `len` is exact."""
        if self._cache is not None and self._cache[0] == self.epoch:
            return self._cache[1]
        remaining = dict.fromkeys(torch.randperm(len(self.rows), generator=self._generator()).tolist())
        batches: list[list[int]] = []
        while remaining:
            batch: list[int] = []
            seen: set[str] = set()
            for index in remaining:
                texts = self.rows[index]
                if seen.isdisjoint(texts):
                    batch.append(index)
                    seen.update(texts)
                    if len(batch) == self.batch_size:
                        break
            for index in batch:
                del remaining[index]
            if len(batch) < self.batch_size and self.drop_last:
                break
            batches.append(batch)
        self._cache = (self.epoch, batches)
        return batches


class LengthGroupedBatchSampler(_EpochSeeded):
    """Shuffle, sort by length inside windows of `window` batches, cut, shuffle the batches."""

    def __init__(
        self,
        lengths: Sequence[int],
        batch_size: int,
        drop_last: bool = False,
        seed: int = 0,
        window: int = 32,
    ) -> None:
        super().__init__(batch_size, drop_last, seed)
        self.lengths = list(lengths)
        self.window = window

    def __iter__(self) -> Iterator[list[int]]:
        generator = self._generator()
        order = torch.randperm(len(self.lengths), generator=generator).tolist()
        span = self.batch_size * self.window
        batches: list[list[int]] = []
        for start in range(0, len(order), span):
            chunk = sorted(order[start : start + span], key=lambda i: -self.lengths[i])
            batches.extend(chunk[i : i + self.batch_size] for i in range(0, len(chunk), self.batch_size))
        if self.drop_last:
            batches = [b for b in batches if len(b) == self.batch_size]
        for position in torch.randperm(len(batches), generator=generator).tolist():
            yield batches[position]

    def __len__(self) -> int:
        span = self.batch_size * self.window
        full_windows, tail = divmod(len(self.lengths), span)
        count = full_windows * self.window
        if self.drop_last:
            return count + tail // self.batch_size
        return count + -(-tail // self.batch_size)


class RandomBatchSampler(_EpochSeeded):
    """Plain shuffled batches, seeded per epoch like the others."""

    def __init__(self, size: int, batch_size: int, drop_last: bool = False, seed: int = 0) -> None:
        super().__init__(batch_size, drop_last, seed)
        self.size = size

    def __iter__(self) -> Iterator[list[int]]:
        order = torch.randperm(self.size, generator=self._generator()).tolist()
        for start in range(0, self.size, self.batch_size):
            batch = order[start : start + self.batch_size]
            if len(batch) < self.batch_size and self.drop_last:
                return
            yield batch

    def __len__(self) -> int:
        full, rest = divmod(self.size, self.batch_size)
        return full if self.drop_last or rest == 0 else full + 1


class InterleavedBatchSampler(Sampler[list[int]]):
    """The batches of one sampler per dataset, in a seeded random order across datasets.

    `offsets[p]` is where dataset p starts in the combined index (`DatasetMix.offsets`);
    each dataset keeps the order its own sampler gives its batches.
    """

    def __init__(self, samplers: Sequence[Sampler[list[int]]], offsets: Sequence[int], seed: int = 0) -> None:
        if not samplers or len(samplers) != len(offsets):
            raise ValueError(f"need one offset per sampler, got {len(samplers)} and {len(offsets)}")
        self.samplers = list(samplers)
        self.offsets = list(offsets)
        self.seed = seed
        self.epoch = 0
        # Read by accelerate's data loader wrappers; the largest batch any part yields.
        self.batch_size = max(getattr(s, "batch_size", 1) for s in self.samplers)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)
        for sampler in self.samplers:
            if hasattr(sampler, "set_epoch"):
                sampler.set_epoch(epoch)

    def __iter__(self) -> Iterator[list[int]]:
        batches = [
            [[offset + index for index in batch] for batch in sampler]
            for sampler, offset in zip(self.samplers, self.offsets, strict=True)
        ]
        owners = [part for part, own in enumerate(batches) for _ in own]
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        cursors = [iter(own) for own in batches]
        for position in torch.randperm(len(owners), generator=generator).tolist():
            yield next(cursors[owners[position]])

    def __len__(self) -> int:
        return sum(len(sampler) for sampler in self.samplers)
