"""What the client's methods return: small frozen dataclasses, no protobuf types.

Callers should not need the generated messages; these types are stable even if
the wire format gains fields.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Timings:
    """Server time per stage, in microseconds (zero where the server did not report it)."""

    queue_us: int = 0
    tokenize_us: int = 0
    inference_us: int = 0


@dataclass(frozen=True)
class Document:
    """A stored document."""

    id: str
    text: str
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Hit:
    """One search result; `score` is the cosine similarity to the query."""

    id: str
    score: float
    text: str
    metadata: Mapping[str, str] = field(default_factory=dict)


class SearchResults(list[Hit]):
    """The hits of one query, best first: a plain list that also says which model served it."""

    def __init__(self, hits: Iterable[Hit] = (), model_version: str = "", timings: Timings | None = None):
        super().__init__(hits)
        self.model_version = model_version
        self.timings = timings or Timings()

    def __repr__(self) -> str:
        return f"SearchResults({list.__repr__(self)}, model_version={self.model_version!r})"


@dataclass(frozen=True)
class EmbedResult:
    """`embed_detailed`'s answer: the vectors plus what the server said about them.

    `timings` sums the stages over all chunks of the call; `token_counts` is per input.
    """

    embeddings: np.ndarray
    model_version: str
    token_counts: tuple[int, ...]
    timings: Timings


@dataclass(frozen=True)
class UpsertResult:
    """How many documents were written, and the model version that embedded them."""

    upserted: int
    model_version: str


@dataclass(frozen=True)
class Limits:
    """Every limit the server enforces (0 means the server reports no limit)."""

    max_batch_tokens: int = 0
    max_batch_requests: int = 0
    max_concurrent_requests: int = 0
    max_client_batch_size: int = 0
    max_input_chars: int = 0
    max_search_k: int = 0
    max_metadata_entries: int = 0
    max_metadata_bytes: int = 0
    max_feedback_items: int = 0
    max_id_bytes: int = 0


@dataclass(frozen=True)
class ServerInfo:
    """The served model, its dimension, the index and the server's limits."""

    model_version: str
    model_name: str
    dimension: int
    max_seq_length: int
    normalized: bool
    quantized: bool
    limits: Limits
    index_size: int
    index_type: str
    server_version: str
    auth_required: bool
