"""The thin routes' bodies: the proto3 JSON mapping of the RPC's request and response.

The proto stays the one schema: a body is parsed into the request message (unknown
fields and wrong types refused, as gRPC's parser refuses a malformed message), and a
response is the message as JSON, field names as in embedtune.proto, 64-bit integers as
numbers where they fit. A response that names a model version also says it in the
`X-Model-Version` header.
"""

from __future__ import annotations

from typing import Any, TypeVar

import grpc
import orjson
from fastapi import Request
from fastapi.responses import Response
from google.protobuf import json_format
from google.protobuf.message import Message

from embedtune_server.http.errors import RpcFailure

MODEL_VERSION_HEADER = "X-Model-Version"
# The largest value of a proto uint32 field, for numbers a route copies into one.
UINT32_MAX = 2**32 - 1

M = TypeVar("M", bound=Message)


async def parse_body(request: Request, message: M) -> M:
    """`message` filled from the request's JSON body; a body that does not fit is INVALID_ARGUMENT
    "malformed request: ...", as a gRPC message that does not parse (malformed.py)."""
    body = await request.body()
    try:
        return json_format.Parse(body or b"{}", message)
    except json_format.ParseError as exc:
        raise RpcFailure(grpc.StatusCode.INVALID_ARGUMENT, f"malformed request: {exc}") from exc


def as_dict(message: Message) -> dict[str, Any]:
    return json_format.MessageToDict(
        message,
        preserving_proto_field_name=True,
        always_print_fields_with_no_presence=True,
        unquote_int64_if_possible=True,
    )


def json_bytes(content: object) -> bytes:
    """UTF-8 JSON; numpy arrays (embeddings) are written as lists of their float32 values,
    without a Python float per value."""
    return orjson.dumps(content, option=orjson.OPT_SERIALIZE_NUMPY)


def json_response(content: object, model_version: str = "", status_code: int = 200) -> Response:
    """JSON, with `X-Model-Version` when the answer depends on a model version."""
    headers = {MODEL_VERSION_HEADER: model_version} if model_version else None
    return Response(
        json_bytes(content), status_code=status_code, media_type="application/json", headers=headers
    )


def message_response(message: Message) -> Response:
    """A response message as JSON; its `model_version` field, if it has one, is also the header."""
    return json_response(as_dict(message), getattr(message, "model_version", ""))
