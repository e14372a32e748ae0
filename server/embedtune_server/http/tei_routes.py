"""Text Embeddings Inference's routes: POST /embed, POST /rerank, GET /info, GET /health.

The shapes are TEI's, so its clients work: /embed answers a bare list of vectors (the
model version is in the `X-Model-Version` header), `normalize` defaults to true and
`truncate` to false, as in TEI; /rerank answers TEI's bare list of `{index, score[, text]}`,
best first, with the cross-encoder's version in the `X-Model-Version` header. /health is
open, like gRPC health checking: 200 while serving, 503 once shutdown began.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from embedtune_client.v1 import embedtune_pb2 as pb
from embedtune_server import __version__
from embedtune_server.http.calls import Rpc, call, serve, servicer
from embedtune_server.http.errors import error_response
from embedtune_server.http.protojson import UINT32_MAX, as_dict, json_response
from embedtune_server.http.routing import RpcRoute, calls
from embedtune_server.services.embed import Embedded

EMBED = Rpc("EmbedService", "Embed")
INFO = Rpc("EmbedService", "Info")
RERANK = Rpc("EmbedService", "Rerank")

_DIRECTIONS = {"right": pb.TRUNCATION_DIRECTION_RIGHT, "left": pb.TRUNCATION_DIRECTION_LEFT}

router = APIRouter(route_class=RpcRoute, tags=["TEI"])


class EmbedBody(BaseModel):
    inputs: str | list[str]
    normalize: bool = True
    truncate: bool = False
    truncation_direction: Literal["Right", "Left", "right", "left"] = "Right"
    dimensions: int | None = Field(default=None, ge=0, le=UINT32_MAX)


@router.post("/embed", **calls(EMBED))
async def embed(request: Request, body: EmbedBody) -> Response:
    message = pb.EmbedRequest(
        inputs=[body.inputs] if isinstance(body.inputs, str) else body.inputs,
        normalize=body.normalize,
        truncate=body.truncate,
        truncation_direction=_DIRECTIONS[body.truncation_direction.lower()],
    )
    if body.dimensions is not None:
        message.dimensions = body.dimensions
    embedded: Embedded = await serve(request, servicer(request).embed(message))
    return json_response(np.ascontiguousarray(embedded.vectors, dtype=np.float32), embedded.model_version)


class RerankBody(BaseModel):
    query: str
    texts: list[str]
    return_text: bool = False
    # embedtune's addition to TEI's shape: keep only the best `top_n`.
    top_n: int | None = Field(default=None, ge=0, le=UINT32_MAX)


@router.post("/rerank", **calls(RERANK))
async def rerank(request: Request, body: RerankBody) -> Response:
    """The cross-encoder's score of each text against `query`; pairs longer than it reads are cut."""
    message = pb.RerankRequest(
        query=body.query,
        candidates=[pb.TextRef(text=text) for text in body.texts],
        return_text=body.return_text,
    )
    if body.top_n is not None:
        message.top_n = body.top_n
    response: pb.RerankResponse = await call(request, message)
    results = [
        {"index": r.index, "score": r.score, **({"text": r.text} if body.return_text else {})}
        for r in response.results
    ]
    return json_response(results, response.cross_encoder_version)


@router.get("/info", **calls(INFO))
async def info(request: Request) -> Response:
    """TEI's fields that embedtune has, then embedtune's own Info under `embedtune`."""
    message: pb.InfoResponse = await call(request, pb.InfoRequest())
    limits = message.limits
    content = {
        "model_id": message.model_name,
        "model_dtype": "int8" if message.quantized else "float32",
        "max_concurrent_requests": limits.max_concurrent_requests,
        "max_input_length": message.max_seq_length,
        "max_batch_tokens": limits.max_batch_tokens,
        "max_batch_requests": limits.max_batch_requests,
        "max_client_batch_size": limits.max_client_batch_size,
        "version": message.server_version,
        "model_version": message.model_version,
        "max_request_bytes": limits.max_request_bytes,
        "embedtune": as_dict(message),
    }
    return json_response(content, message.model_version)


@router.get("/health")
async def health(request: Request) -> Response:
    if not request.app.state.serving:
        return error_response(503, "shutting down", "service_unavailable_error", "unavailable")
    return json_response({"status": "serving", "version": __version__})
