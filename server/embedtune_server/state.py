"""The serving state: one immutable object per model version, behind one reference.

A request leases `StateHolder.current` once (`with holder.lease() as state:`) and uses
that object to the end, so a query is embedded and searched with the same version and
the response can name it. A model swap builds a complete new `ServingState` (encoder,
batcher, index) and replaces the reference in one assignment; requests already
holding the old one finish on it, and `drained` tells when the last has, so its
threads and sessions can be released. That assignment is the only mutation.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from embedtune_server.batching import TokenBudgetBatcher
from embedtune_server.index.base import VectorIndex


class EmbeddingBackend(Protocol):
    """What the server needs from an encoder (the ONNX Runtime backend, or a fake in tests).

    `infer` must be safe to call from `streams` threads at once.
    """

    dimension: int
    max_seq_length: int
    normalized: bool
    streams: int
    tokenizer: object

    def infer(self, token_ids: list[np.ndarray]) -> np.ndarray: ...

    def release_idle(self) -> None:
        """Hand back the batch memory of streams that are idle; called when a stream runs out of work."""


class _Tenancy:
    """How many requests hold a state, and whether it has been retired; loop-only."""

    def __init__(self) -> None:
        self.users = 0
        self.retired = False
        self.drained = asyncio.Event()

    def release(self) -> None:
        self.users -= 1
        if self.retired and self.users == 0:
            self.drained.set()

    def retire(self) -> None:
        self.retired = True
        if self.users == 0:
            self.drained.set()


@dataclass(frozen=True)
class ServingState:
    """One model version ready to serve: what embeds, what searches, and in which space."""

    model_version: str
    model_name: str
    model_dir: Path
    space: str
    backend: EmbeddingBackend
    batcher: TokenBudgetBatcher
    index: VectorIndex
    normalized: bool
    quantized: bool
    tenancy: _Tenancy = field(default_factory=_Tenancy, compare=False, repr=False)

    async def drained(self) -> None:
        """Returns once the state is retired and no request holds it."""
        await self.tenancy.drained.wait()


class StateHolder:
    """The one reference to the live `ServingState`."""

    def __init__(self, state: ServingState) -> None:
        self._state = state

    @property
    def current(self) -> ServingState:
        """The live state, for reads that need no lease (Info, the background save)."""
        return self._state

    @contextmanager
    def lease(self) -> Iterator[ServingState]:
        """The live state, held until the block ends: a swap meanwhile does not release it."""
        state = self._state
        state.tenancy.users += 1
        try:
            yield state
        finally:
            state.tenancy.release()

    def swap(self, new: ServingState) -> ServingState:
        """Make `new` live and retire the previous state, which is returned for draining."""
        old, self._state = self._state, new
        old.tenancy.retire()
        return old
