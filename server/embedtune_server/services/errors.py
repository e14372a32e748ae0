"""Domain errors to gRPC status codes, in one place for every servicer."""

from __future__ import annotations

import errno
import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

import grpc

from embedtune_server.backend.tokenizer import InputTooLongError
from embedtune_server.batching import BatcherClosedError
from embedtune_server.capacity import OverloadedError
from embedtune_server.jobs.runner import NotFoundError, PreconditionError
from embedtune_server.store.documents import MissingDocumentsError
from embedtune_server.validation import ValidationError

log = logging.getLogger(__name__)


def status_of(exc: Exception) -> tuple[grpc.StatusCode, str]:
    if isinstance(exc, ValidationError):
        return grpc.StatusCode.INVALID_ARGUMENT, str(exc)
    if isinstance(exc, InputTooLongError):
        return grpc.StatusCode.INVALID_ARGUMENT, (
            f"inputs[{exc.index}]: {exc.tokens} tokens exceeds the model's max_seq_length={exc.limit};"
            " set truncate=true to cut it"
        )
    if isinstance(exc, (MissingDocumentsError, NotFoundError)):
        return grpc.StatusCode.NOT_FOUND, str(exc)
    if isinstance(exc, PreconditionError):
        return grpc.StatusCode.FAILED_PRECONDITION, str(exc)
    if isinstance(exc, OverloadedError):
        return grpc.StatusCode.RESOURCE_EXHAUSTED, str(exc)
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        log.warning("refused a write, the disk is full: %s", exc)
        return grpc.StatusCode.RESOURCE_EXHAUSTED, (
            "disk full: the server could not store this write and kept nothing of it; reads still work"
        )
    if isinstance(exc, BatcherClosedError):
        return grpc.StatusCode.UNAVAILABLE, str(exc)
    log.exception("internal error", exc_info=exc)
    return grpc.StatusCode.INTERNAL, f"internal error: {type(exc).__name__}"


def unary(method: Callable[..., Awaitable]) -> Callable[..., Awaitable]:
    """Decorate an async unary servicer method so domain errors become status codes."""

    @functools.wraps(method)
    async def wrapper(self, request, context: grpc.aio.ServicerContext):
        try:
            return await method(self, request, context)
        except Exception as exc:
            await context.abort(*status_of(exc))

    return wrapper


def streaming(method: Callable[..., AsyncIterator]) -> Callable[..., AsyncIterator]:
    """Decorate an async-generator servicer method so domain errors end the stream with a status."""

    @functools.wraps(method)
    async def wrapper(self, request_iterator, context: grpc.aio.ServicerContext):
        try:
            async for response in method(self, request_iterator, context):
                yield response
        except grpc.aio.AbortError:
            raise  # already answered, e.g. a malformed request in the stream (malformed.py)
        except Exception as exc:
            await context.abort(*status_of(exc))

    return wrapper
