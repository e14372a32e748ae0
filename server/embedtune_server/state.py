"""The serving state: one immutable object per model version, behind one reference.

A request reads `StateHolder.current` once and uses that object to the end, so a
query is embedded and searched with the same version and the response can name it.
A model swap builds a complete new `ServingState` (encoder, batcher, shadow index)
and replaces the reference in one assignment; requests already running finish on
the old one. That assignment is the only mutation.
"""

from __future__ import annotations

from dataclasses import dataclass
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
    model_name: str
    normalized: bool
    streams: int
    tokenizer: object

    def infer(self, token_ids: list[np.ndarray]) -> np.ndarray: ...

    def encode(self, texts: list[str]) -> np.ndarray: ...


@dataclass(frozen=True)
class ServingState:
    model_version: str
    model_dir: Path
    backend: EmbeddingBackend
    batcher: TokenBudgetBatcher
    index: VectorIndex
    normalized: bool
    quantized: bool


class StateHolder:
    """The one reference to the live `ServingState`."""

    def __init__(self, state: ServingState) -> None:
        self._state = state

    @property
    def current(self) -> ServingState:
        return self._state

    def swap(self, new: ServingState) -> ServingState:
        """Make `new` live; returns the previous state (kept for rollback and draining)."""
        old, self._state = self._state, new
        return old
