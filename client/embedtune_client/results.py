"""What the client's methods return: small frozen dataclasses, no protobuf types.

Callers should not need the generated messages; these types are stable even if
the wire format gains fields.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np

from embedtune_client.contract import TERMINAL_STATES


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
    """One search result; `score` is the cosine similarity to the query, or with `rerank_top_k`
    the cross-encoder's score."""

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
class RerankResult:
    """One reranked candidate: where it was in the list given, its document id ("" for a text
    given inline), the cross-encoder's score (higher is more relevant) and, when asked, its text."""

    index: int
    score: float
    id: str = ""
    text: str = ""


class RerankResults(list[RerankResult]):
    """The candidates of one `rerank`, best first: a plain list that also says which cross-encoder scored."""

    def __init__(
        self,
        results: Iterable[RerankResult] = (),
        cross_encoder_version: str = "",
        timings: Timings | None = None,
    ):
        super().__init__(results)
        self.cross_encoder_version = cross_encoder_version
        self.timings = timings or Timings()

    def __repr__(self) -> str:
        return f"RerankResults({list.__repr__(self)}, cross_encoder_version={self.cross_encoder_version!r})"


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
    max_document_chars: int = 0
    max_response_bytes: int = 0
    max_request_bytes: int = 0
    max_rerank_candidates: int = 0
    max_rerank_chars: int = 0


@dataclass(frozen=True)
class ServerInfo:
    """The served model, its dimension, the index and the server's limits.

    `cross_encoder_version` is "" when the server has no cross-encoder (no `rerank`).
    """

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
    # The server's resident memory when it answered (0 from a server that does not report it).
    rss_bytes: int = 0
    cross_encoder_version: str = ""
    cross_encoder_name: str = ""
    cross_encoder_quantized: bool = False
    cross_encoder_max_seq_length: int = 0


@dataclass(frozen=True)
class JobProgress:
    """Work done in the job's current state, in `unit`s ("steps", "documents").

    `total` is 0 while unknown; `eta_s` is the estimated seconds left in this state (0: unknown).
    """

    done: int = 0
    total: int = 0
    unit: str = ""
    eta_s: float = 0.0


@dataclass(frozen=True)
class Gate:
    """What decided a training job: the new version must beat the active one by more than `margin`.

    The scores are the mean of the held-out metrics named in `metric`.
    """

    metric: str
    active_score: float
    new_score: float
    margin: float
    passed: bool


@dataclass(frozen=True)
class TrainingOptions:
    """The options of a training job as the server recorded them (None: not recorded).

    `losses` maps a feedback kind to its loss; `base_version` "" means the active version.
    """

    losses: Mapping[str, str] = field(default_factory=dict)
    epochs: float | None = None
    batch_size: int | None = None
    learning_rate: float | None = None
    min_feedback: int | None = None
    held_out_fraction: float | None = None
    gate_margin: float | None = None
    base_version: str = ""
    seed: int | None = None
    max_seq_length: int | None = None


@dataclass(frozen=True)
class Job:
    """A training, activation or model registration job, as the server last reported it.

    `kind` is "train", "activate" or "add_model"; `state` one of "queued", "training",
    "evaluating", "exporting", "reindexing", then a terminal "activated", "rejected",
    "failed" or "cancelled" (`reason` says why for the last three). `gate` is None until
    the job has been gated; `options` None for jobs that do not train. `state_seconds`
    holds the seconds spent in each state that ran. Times are Unix seconds;
    `finished_at` is None until the job ends.
    """

    id: int
    kind: str
    state: str
    progress: JobProgress
    options: TrainingOptions | None
    base_version: str
    version: str
    feedback_first_id: int
    feedback_last_id: int
    feedback_counts: Mapping[str, int]
    metrics_active: Mapping[str, float]
    metrics_new: Mapping[str, float]
    gate: Gate | None
    reason: str
    state_seconds: Mapping[str, float]
    created_at: float
    finished_at: float | None

    @property
    def done(self) -> bool:
        """The job has ended; its state will not change again."""
        return self.state in TERMINAL_STATES

    @property
    def succeeded(self) -> bool:
        """Its version serves now (for add_model: is registered)."""
        return self.state == "activated"


@dataclass(frozen=True)
class ModelVersion:
    """A model version the server knows.

    `status` is "ready" (can be activated) or "rejected" (the gate kept the active version;
    kept for inspection). `parent` is "" for a base model, `job_id` 0 for the first version.
    """

    version: str
    parent: str
    base_model: str
    created_at: float
    losses: Mapping[str, str]
    feedback_counts: Mapping[str, int]
    metrics: Mapping[str, float]
    active: bool
    job_id: int
    status: str
