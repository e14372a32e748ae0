"""OpenAI's embeddings API: POST /v1/embeddings and GET /v1/models.

Requests and responses have OpenAI's shape, so `openai.OpenAI(base_url=...)` and clients
built on it work unchanged. `input` may be token ids, as OpenAI allows: they are decoded
with the served model's tokenizer and the text is embedded (re-tokenised, so ids the
tokenizer would not produce for that text are not kept, and ids of another tokenizer,
such as tiktoken's, spell nonsense). `dimensions` cuts each vector to its first
dimensions (Matryoshka) and normalises it again, as OpenAI's are unit length.
"""

from __future__ import annotations

import base64
from typing import Literal

import grpc
import numpy as np
from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from embedtune_client.v1 import embedtune_pb2 as pb
from embedtune_server.http.calls import Rpc, call, serve, servicer
from embedtune_server.http.errors import RpcFailure
from embedtune_server.http.protojson import UINT32_MAX, json_response
from embedtune_server.http.routing import RpcRoute, calls
from embedtune_server.services.embed import Embedded
from embedtune_server.state import ServingState
from embedtune_server.validation import check_token_ids

EMBED = Rpc("EmbedService", "Embed")
INFO = Rpc("EmbedService", "Info")

# A text, texts, one text as token ids, or texts as token ids.
EmbeddingInput = str | list[str] | list[int] | list[list[int]]

router = APIRouter(route_class=RpcRoute, tags=["OpenAI"])


class EmbeddingsRequest(BaseModel):
    input: EmbeddingInput = Field(description="a text, texts, one text as token ids, or texts as token ids")
    model: str | None = Field(
        default=None, description="the served model's name or version (any name with --http-accept-any-model)"
    )
    encoding_format: Literal["float", "base64"] = Field(
        default="float", description="base64: each vector's little-endian float32 bytes"
    )
    dimensions: int | None = Field(
        default=None, ge=0, le=UINT32_MAX, description="keep the first N dimensions"
    )
    user: str | None = Field(default=None, description="accepted and ignored")


def _texts(state: ServingState, given: EmbeddingInput) -> list[str]:
    if isinstance(given, str):
        return [given]
    if not given or isinstance(given[0], str):
        return list(given)
    token_lists = [given] if isinstance(given[0], int) else given
    tokenizer = state.backend.tokenizer
    check_token_ids("input", token_lists, tokenizer.vocab_size)
    return tokenizer.decode(token_lists)


def _check_model(request: Request, state: ServingState, model: str | None) -> None:
    if model is None or model in (state.model_name, state.model_version):
        return
    if request.app.state.settings.http_accept_any_model:
        return
    raise RpcFailure(
        grpc.StatusCode.NOT_FOUND,
        f"model: {model!r} is not served here; this server serves {state.model_name!r}"
        f" (version {state.model_version!r}); start it with --http-accept-any-model to accept any name",
    )


def _encoded(vectors: np.ndarray, encoding_format: str) -> list:
    """Each vector as OpenAI sends it: floats (the array row, which `json_bytes` writes), or
    base64 of its little-endian float32 bytes."""
    rows = np.ascontiguousarray(vectors, dtype="<f4")
    if encoding_format == "base64":
        return [base64.b64encode(row.tobytes()).decode("ascii") for row in rows]
    return list(rows)


@router.post("/v1/embeddings", **calls(EMBED))
async def create_embeddings(request: Request, body: EmbeddingsRequest) -> Response:
    state = request.app.state.holder.current
    _check_model(request, state, body.model)
    embed = pb.EmbedRequest(inputs=_texts(state, body.input), normalize=body.dimensions is not None)
    if body.dimensions is not None:
        embed.dimensions = body.dimensions
    embedded: Embedded = await serve(request, servicer(request).embed(embed))
    data = [
        {"object": "embedding", "index": i, "embedding": vector}
        for i, vector in enumerate(_encoded(embedded.vectors, body.encoding_format))
    ]
    tokens = sum(embedded.result.token_counts)
    content = {
        "object": "list",
        "data": data,
        "model": state.model_name,
        "model_version": embedded.model_version,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }
    return json_response(content, embedded.model_version)


@router.get("/v1/models", **calls(INFO))
async def list_models(request: Request) -> Response:
    """The served model under both names `model` accepts: its base model and its version."""
    info: pb.InfoResponse = await call(request, pb.InfoRequest())
    data = [
        {
            "id": name,
            "object": "model",
            "created": 0,
            "owned_by": "embedtune",
            "model_version": info.model_version,
        }
        for name in dict.fromkeys((info.model_name, info.model_version))
    ]
    return json_response({"object": "list", "data": data}, info.model_version)
