"""Typed errors for failed calls.

Every server error arrives as a gRPC status; mapping it to one exception class per
status code lets callers write `except NotFoundError` instead of comparing codes,
while `.code` and `.details` keep the raw status for logging.
"""

from __future__ import annotations

import grpc


class EmbedtuneError(Exception):
    """A call to the embedtune server failed.

    `code` is the gRPC status code, `details` the server's message (which names the
    field and limit for INVALID_ARGUMENT), `method` the short RPC name ("Embed").
    """

    def __init__(self, code: grpc.StatusCode, details: str, method: str = "") -> None:
        self.code = code
        self.details = details
        self.method = method
        where = f"{method}: " if method else ""
        super().__init__(f"{where}{code.name}: {details}")


class InvalidArgumentError(EmbedtuneError):
    """The server rejected an argument (INVALID_ARGUMENT); the message names it."""


class NotFoundError(EmbedtuneError):
    """Unknown document ids (NOT_FOUND)."""


class AlreadyExistsError(EmbedtuneError):
    """ALREADY_EXISTS."""


class FailedPreconditionError(EmbedtuneError):
    """The server is not in a state to do this now (FAILED_PRECONDITION)."""


class ResourceExhaustedError(EmbedtuneError):
    """The server is at its concurrency limit, or its disk is full for a write (RESOURCE_EXHAUSTED)."""


class UnauthenticatedError(EmbedtuneError):
    """Missing or wrong api key (UNAUTHENTICATED)."""


class PermissionDeniedError(EmbedtuneError):
    """The key may not do this, e.g. a write without the admin key (PERMISSION_DENIED)."""


class UnavailableError(EmbedtuneError):
    """The server cannot be reached or is shutting down (UNAVAILABLE)."""


class DeadlineExceededError(EmbedtuneError):
    """The call took longer than the client's timeout (DEADLINE_EXCEEDED)."""


class CallCancelledError(EmbedtuneError):
    """The call was cancelled (CANCELLED)."""


class UnimplementedError(EmbedtuneError):
    """The server does not implement this method (UNIMPLEMENTED): version mismatch."""


class InternalError(EmbedtuneError):
    """A server-side bug (INTERNAL, UNKNOWN, DATA_LOSS)."""


class ModelVersionMismatchError(EmbedtuneError):
    """The chunks of one embed call kept being served by different model versions.

    Raised by the client, not the server: vectors of two versions are not comparable,
    so the client re-embeds when a model swap lands mid-call and gives up only if the
    versions still differ.
    """

    def __init__(self, versions: set[str], method: str = "Embed") -> None:
        super().__init__(
            grpc.StatusCode.ABORTED,
            f"chunks were served by different model versions {sorted(versions)}",
            method,
        )


_BY_CODE: dict[grpc.StatusCode, type[EmbedtuneError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgumentError,
    grpc.StatusCode.OUT_OF_RANGE: InvalidArgumentError,
    grpc.StatusCode.NOT_FOUND: NotFoundError,
    grpc.StatusCode.ALREADY_EXISTS: AlreadyExistsError,
    grpc.StatusCode.FAILED_PRECONDITION: FailedPreconditionError,
    grpc.StatusCode.RESOURCE_EXHAUSTED: ResourceExhaustedError,
    grpc.StatusCode.UNAUTHENTICATED: UnauthenticatedError,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDeniedError,
    grpc.StatusCode.UNAVAILABLE: UnavailableError,
    grpc.StatusCode.DEADLINE_EXCEEDED: DeadlineExceededError,
    grpc.StatusCode.CANCELLED: CallCancelledError,
    grpc.StatusCode.UNIMPLEMENTED: UnimplementedError,
    grpc.StatusCode.INTERNAL: InternalError,
    grpc.StatusCode.UNKNOWN: InternalError,
    grpc.StatusCode.DATA_LOSS: InternalError,
}


def error_from_rpc(exc: grpc.RpcError, method: str = "") -> EmbedtuneError:
    """The typed error for a failed sync or asyncio call (both raise grpc.RpcError)."""
    code = exc.code() if hasattr(exc, "code") else grpc.StatusCode.UNKNOWN
    details = (exc.details() if hasattr(exc, "details") else None) or str(exc)
    return _BY_CODE.get(code, EmbedtuneError)(code, details, method)
