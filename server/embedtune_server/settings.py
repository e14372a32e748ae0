"""Every knob of the server in one typed dataclass.

`embedtune serve` turns each field into a flag (its `help` metadata is the flag's help),
and the Info RPC reports every limit, so a client can always find out why a request
was refused.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

SQLITE_SYNCHRONOUS_MODES = ("FULL", "NORMAL")


def _help(text: str, **extra) -> dict:
    """Field metadata: the flag's help text, argparse extras such as choices, and `env`,
    the environment variable that gives the flag's default (keys stay out of the process list)."""
    return {"help": text, **extra}


def flag(name: str) -> str:
    """The `embedtune serve` flag of a settings field, so an error can name what the user typed."""
    return "--" + name.replace("_", "-")


@dataclass(frozen=True)
class ServerSettings:
    """Configuration of one server process; immutable once the server starts."""

    host: str = field(default="127.0.0.1", metadata=_help("address to bind; beyond loopback set --api-key"))
    port: int = field(default=50051, metadata=_help("gRPC port (0 picks a free one)"))
    http_port: int | None = field(
        default=None,
        metadata=_help("HTTP port of the OpenAI and TEI-style JSON routes (0 picks a free one; unset: off)"),
    )
    http_accept_any_model: bool = field(
        default=False,
        metadata=_help("POST /v1/embeddings accepts any `model` name, not only the served model's"),
    )
    home: Path = field(
        default=Path("embedtune-home"),
        metadata=_help("state folder: models/, index/, the SQLite database", env="EMBEDTUNE_HOME"),
    )
    model: str = field(
        default="default",
        metadata=_help("model for an empty home: a name the trainer exports, or a model version folder"),
    )
    quantize: bool = field(default=False, metadata=_help("serve onnx/model_qint8.onnx, not onnx/model.onnx"))
    cross_encoder: str | None = field(
        default=None,
        metadata=_help(
            "cross-encoder for Rerank and Search's rerank_top_k: a folder with onnx/ (served as is),"
            " or a CrossEncoder folder or Hugging Face id the trainer exports once into HOME/cross-encoders/"
        ),
    )
    cross_encoder_quantize: bool = field(
        default=False,
        metadata=_help(
            "score with the cross-encoder's onnx/model_qint8.onnx (separate from --quantize, which"
            " decides the index's vectors)"
        ),
    )
    # batching
    max_batch_tokens: int = field(
        default=512,
        metadata=_help(
            "token budget of one inference batch (inputs x longest input); an input longer than it"
            " runs in a batch of its own"
        ),
    )
    max_batch_requests: int = field(default=64, metadata=_help("most inputs in one inference batch"))
    max_concurrent_requests: int = field(
        default=512,
        metadata=_help("most embedding requests admitted (queued or running); more get RESOURCE_EXHAUSTED"),
    )
    # request limits
    max_client_batch_size: int = field(
        default=128, metadata=_help("most inputs, documents, ids or queries in one request")
    )
    max_input_chars: int = field(
        default=8192, metadata=_help("longest text to embed or search with, in characters")
    )
    max_document_chars: int = field(
        default=100_000,
        metadata=_help(
            "longest document text stored, in characters (its first max_seq_length tokens are embedded)"
        ),
    )
    max_search_k: int = field(default=1000, metadata=_help("largest k of a Search"))
    max_response_bytes: int = field(
        default=64 * 1024 * 1024,
        metadata=_help(
            "largest encoded Search or BatchSearch response, in bytes; a bigger one is refused"
            " before the documents are fetched"
        ),
    )
    max_metadata_entries: int = field(
        default=16, metadata=_help("most metadata entries of one document (and of a filter)")
    )
    max_metadata_bytes: int = field(
        default=2048, metadata=_help("most UTF-8 bytes of one document's metadata keys and values")
    )
    max_feedback_items: int = field(default=1000, metadata=_help("most items in one SubmitFeedback"))
    max_id_bytes: int = field(default=256, metadata=_help("longest document id, in UTF-8 bytes"))
    max_request_bytes: int = field(
        default=4 * 1024 * 1024,
        metadata=_help("largest request: a gRPC message, or an HTTP body (refused before it is read whole)"),
    )
    max_rerank_candidates: int = field(
        default=256, metadata=_help("most candidates of one Rerank, and largest rerank_top_k of a Search")
    )
    max_rerank_chars: int = field(
        default=8192, metadata=_help("longest candidate text given inline to Rerank, in characters")
    )
    # runtime
    inference_streams: int = field(
        default=0,
        metadata=_help(
            "batches run at once, each in its own ONNX Runtime session (0: one per core, at most 4)"
        ),
    )
    release_batch_memory: bool = field(
        default=True,
        metadata=_help(
            "hand batch memory back to the system once the queue has been empty for a moment (ONNX"
            " Runtime arena shrinkage, glibc malloc_trim); off, each stream keeps its largest batch's memory"
        ),
    )
    intra_op_threads: int = field(
        default=0, metadata=_help("ONNX Runtime threads per stream (0: the cores shared among the streams)")
    )
    index_factory: str = field(
        default="Flat",
        metadata=_help("FAISS factory string over inner product: Flat, HNSW32, 'IVF1024,PQ32'"),
    )
    index_search_params: str = field(
        default="",
        metadata=_help("FAISS ParameterSpace string applied on load, e.g. nprobe=16 or efSearch=128"),
    )
    index_train_size: int = field(
        default=0, metadata=_help("vectors to collect before training an IVF/PQ index (0: 39 x nlist)")
    )
    index_save_interval_s: float = field(
        default=30.0, metadata=_help("seconds between background saves of a changed index")
    )
    train_threads: int = field(
        default=0, metadata=_help("torch threads of a training job's child process (0: every core)")
    )
    keep_versions: int = field(
        default=3,
        metadata=_help("model versions kept (the active one and the newest others), with their vectors"),
    )
    auto_train_every: int = field(
        default=0, metadata=_help("start a training job once this many new feedback items arrived (0: off)")
    )
    auto_train_min_interval_s: float = field(
        default=600.0, metadata=_help("seconds between two automatically started training jobs")
    )
    sqlite_synchronous: str = field(
        default="FULL",
        metadata=_help(
            "SQLite synchronous mode: FULL survives power loss, NORMAL only a process crash",
            choices=SQLITE_SYNCHRONOUS_MODES,
        ),
    )
    # security and observability
    api_key: str | None = field(
        default=None,
        metadata=_help(
            "Bearer token required on every RPC and HTTP route except health, reflection and the API docs",
            env="EMBEDTUNE_API_KEY",
        ),
    )
    admin_key: str | None = field(
        default=None,
        metadata=_help(
            "Bearer token for Upsert, Delete, SubmitFeedback (default: the api key)",
            env="EMBEDTUNE_ADMIN_KEY",
        ),
    )
    tls_cert: Path | None = field(
        default=None, metadata=_help("PEM certificate chain; with --tls-key serves TLS (gRPC and HTTP)")
    )
    tls_key: Path | None = field(default=None, metadata=_help("PEM private key of --tls-cert"))
    metrics_port: int = field(default=0, metadata=_help("port of the Prometheus /metrics endpoint (0: off)"))
    shutdown_grace_s: float = field(
        default=5.0, metadata=_help("seconds in-flight RPCs get to finish on SIGTERM")
    )

    def __post_init__(self) -> None:
        positive = (
            "max_batch_tokens", "max_batch_requests", "max_concurrent_requests", "max_client_batch_size",
            "max_input_chars", "max_document_chars", "max_search_k", "max_response_bytes",
            "max_metadata_entries", "max_metadata_bytes", "max_feedback_items", "max_id_bytes",
            "max_request_bytes", "max_rerank_candidates", "max_rerank_chars",
        )  # fmt: skip
        for name in positive:
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.keep_versions < 1:
            raise ValueError(f"keep_versions must be at least 1, got {self.keep_versions}")
        if self.auto_train_every < 0 or self.auto_train_min_interval_s < 0:
            raise ValueError("auto_train_every and auto_train_min_interval_s must be 0 (off) or more")
        for name in ("inference_streams", "intra_op_threads", "train_threads"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be 0 (automatic) or more, got {getattr(self, name)}")
        if self.sqlite_synchronous not in SQLITE_SYNCHRONOUS_MODES:
            raise ValueError(
                f"sqlite_synchronous must be one of {SQLITE_SYNCHRONOUS_MODES}: {self.sqlite_synchronous!r}"
            )
        if self.http_port is not None and self.http_port < 0:
            raise ValueError(f"http_port must be 0 (a free port) or more, got {self.http_port}")
        if self.cross_encoder is not None and not self.cross_encoder.strip():
            raise ValueError(f"{flag('cross_encoder')} is empty: give a folder or a Hugging Face id")
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("tls_cert and tls_key go together")
        for name in ("api_key", "admin_key"):
            key = getattr(self, name)
            if key is not None and not key.strip():
                raise ValueError(f"{_source(name)} is empty: give a key, or unset it to serve without one")

    def replace(self, **changes) -> ServerSettings:
        return dataclasses.replace(self, **changes)


def _source(name: str) -> str:
    """Where a setting comes from: its flag, and its environment variable if it has one."""
    env = ServerSettings.__dataclass_fields__[name].metadata.get("env")
    return f"{flag(name)} ({env})" if env else flag(name)
