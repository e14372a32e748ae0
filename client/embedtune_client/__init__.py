"""Python client for the embedtune embedding service.

    from embedtune_client import Client
    with Client("127.0.0.1:50051", api_key="...") as client:
        vectors = client.embed(["first text", "second text"])

`AsyncClient` has the same methods as coroutines. Failed calls raise an
`EmbedtuneError` subclass per gRPC status code. `train()`, `wait()` and `models()`
drive the server's fine-tuning jobs and model versions.
"""

__version__ = "0.1.0"

from embedtune_client.aio import AsyncClient
from embedtune_client.client import Client
from embedtune_client.core.retry import RetryPolicy
from embedtune_client.errors import (
    AlreadyExistsError,
    CallCancelledError,
    DeadlineExceededError,
    EmbedtuneError,
    FailedPreconditionError,
    InternalError,
    InvalidArgumentError,
    ModelVersionMismatchError,
    NotFoundError,
    PermissionDeniedError,
    ResourceExhaustedError,
    UnauthenticatedError,
    UnavailableError,
    UnimplementedError,
)
from embedtune_client.feedback import DocumentRef, LabeledPair, LabeledText, Pair, Triplet
from embedtune_client.results import (
    Document,
    EmbedResult,
    Gate,
    Hit,
    Job,
    JobProgress,
    Limits,
    ModelVersion,
    RerankResult,
    RerankResults,
    SearchResults,
    ServerInfo,
    Timings,
    TrainingOptions,
    UpsertResult,
)

__all__ = [
    "AlreadyExistsError",
    "AsyncClient",
    "CallCancelledError",
    "Client",
    "DeadlineExceededError",
    "Document",
    "DocumentRef",
    "EmbedResult",
    "EmbedtuneError",
    "FailedPreconditionError",
    "Gate",
    "Hit",
    "InternalError",
    "InvalidArgumentError",
    "Job",
    "JobProgress",
    "LabeledPair",
    "LabeledText",
    "Limits",
    "ModelVersion",
    "ModelVersionMismatchError",
    "NotFoundError",
    "Pair",
    "PermissionDeniedError",
    "RerankResult",
    "RerankResults",
    "ResourceExhaustedError",
    "RetryPolicy",
    "SearchResults",
    "ServerInfo",
    "Timings",
    "TrainingOptions",
    "Triplet",
    "UnauthenticatedError",
    "UnavailableError",
    "UnimplementedError",
    "UpsertResult",
    "__version__",
]
