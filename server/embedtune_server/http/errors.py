"""HTTP statuses and the OpenAI error shape for every refusal the edge answers.

A servicer refuses with a gRPC status (`CallContext.abort`), so the HTTP status derives
from that code and the message is the gRPC one word for word. Every error body, an
unknown route included, is `{"error": {"message", "type", "param", "code"}}`.
"""

from __future__ import annotations

import errno
import re

import grpc
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from embedtune_server.services.errors import status_of
from embedtune_server.validation import ValidationError

# Seconds a client refused for overload is asked to wait: admission frees as soon as a
# request ends, so the next second usually has room.
RETRY_AFTER_S = 1

# gRPC status -> (HTTP status, OpenAI error type).
_HTTP_STATUS: dict[grpc.StatusCode, tuple[int, str]] = {
    grpc.StatusCode.INVALID_ARGUMENT: (400, "invalid_request_error"),
    grpc.StatusCode.OUT_OF_RANGE: (400, "invalid_request_error"),
    grpc.StatusCode.UNAUTHENTICATED: (401, "authentication_error"),
    grpc.StatusCode.PERMISSION_DENIED: (403, "permission_error"),
    grpc.StatusCode.NOT_FOUND: (404, "not_found_error"),
    grpc.StatusCode.ALREADY_EXISTS: (409, "conflict_error"),
    grpc.StatusCode.FAILED_PRECONDITION: (409, "conflict_error"),
    grpc.StatusCode.RESOURCE_EXHAUSTED: (429, "rate_limit_error"),
    grpc.StatusCode.CANCELLED: (499, "cancelled"),
    grpc.StatusCode.UNIMPLEMENTED: (501, "not_implemented_error"),
    grpc.StatusCode.UNAVAILABLE: (503, "service_unavailable_error"),
    grpc.StatusCode.DEADLINE_EXCEEDED: (504, "timeout_error"),
}
_SERVER_ERROR = (500, "server_error")
_DISK_FULL = (507, "insufficient_storage_error")

# A message that starts with a field path ("inputs[1]: ...", "queries[0].k: ...") names its param.
_PARAM = re.compile(r"^([A-Za-z_][\w.\[\]]*): ")


class RpcFailure(Exception):
    """A request refused with a gRPC status: by a servicer, by auth, or by the edge itself.

    `cause` is the exception the servicer was handling when it aborted, if any: it tells a
    full disk (507) from an overloaded server (429), which share RESOURCE_EXHAUSTED.
    """

    def __init__(self, code: grpc.StatusCode, details: str, cause: BaseException | None = None) -> None:
        super().__init__(details)
        self.code = code
        self.details = details
        self.cause = cause


def error_response(
    status: int, message: str, kind: str, code: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    match = _PARAM.match(message)
    body = {"message": message, "type": kind, "param": match.group(1) if match else None, "code": code}
    return JSONResponse({"error": body}, status_code=status, headers=headers)


def failure_response(failure: RpcFailure) -> JSONResponse:
    status, kind = _HTTP_STATUS.get(failure.code, _SERVER_ERROR)
    headers: dict[str, str] = {}
    if failure.code == grpc.StatusCode.RESOURCE_EXHAUSTED:
        if isinstance(failure.cause, OSError) and failure.cause.errno == errno.ENOSPC:
            status, kind = _DISK_FULL
        else:
            headers["Retry-After"] = str(RETRY_AFTER_S)
    if failure.code == grpc.StatusCode.UNAUTHENTICATED:
        headers["WWW-Authenticate"] = "Bearer"
    return error_response(status, failure.details, kind, failure.code.name.lower(), headers)


async def _http_error(request: Request, exc: HTTPException) -> JSONResponse:
    """Starlette's own refusals: an unknown route (404), a method the route lacks (405), a body
    over the limit (413)."""
    if exc.status_code == 404 and exc.detail == "Not Found":
        message = f"no route {request.method} {request.url.path}; the routes are listed at /docs"
    elif exc.status_code == 405:
        allowed = (exc.headers or {}).get("Allow", "")
        message = f"{request.url.path} does not take {request.method}; it takes {allowed}"
    else:
        message = str(exc.detail)
    code = _CODES.get(exc.status_code, "error")
    return error_response(exc.status_code, message, "invalid_request_error", code, exc.headers)


_CODES = {404: "not_found", 405: "method_not_allowed", 413: "request_too_large"}


async def _invalid_body(request: Request, exc: RequestValidationError) -> JSONResponse:
    """A body that is not JSON, or not of the route's schema (a type the proto cannot hold)."""
    parts = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error.get("loc", ())[1:])
        parts.append(f"{where}: {error['msg']}" if where else error["msg"])
    return error_response(422, "; ".join(parts), "invalid_request_error", "invalid_body")


def install(app: FastAPI) -> None:
    """Route every refusal through the error shape; a check the edge makes itself (token ids)
    and an unexpected exception are mapped by `status_of`, as the servicers' are."""

    async def rpc_failure(request: Request, exc: RpcFailure) -> JSONResponse:
        return failure_response(exc)

    async def mapped(request: Request, exc: Exception) -> JSONResponse:
        return failure_response(RpcFailure(*status_of(exc), cause=exc))  # logs an unexpected traceback

    app.add_exception_handler(RpcFailure, rpc_failure)
    # ValidationError needs its own entry: Starlette answers the Exception handler's errors and
    # then raises them again.
    app.add_exception_handler(ValidationError, mapped)
    app.add_exception_handler(Exception, mapped)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _invalid_body)
