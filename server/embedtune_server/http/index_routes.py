"""Search and documents over JSON: thin routes over IndexService.

Bodies and answers are the proto3 JSON of the RPC's messages (protojson.py), e.g.
`POST /v1/search {"text": "...", "k": 5, "filter": {"lang": "en"}}` or
`{"vector": {"values": [...]}, "k": 5}`.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from embedtune_client.v1 import embedtune_pb2 as pb
from embedtune_server.http.calls import Rpc, call
from embedtune_server.http.protojson import as_dict, json_response, message_response, parse_body
from embedtune_server.http.routing import RpcRoute, calls

router = APIRouter(route_class=RpcRoute, tags=["index"])


@router.post("/v1/search", **calls(Rpc("IndexService", "Search")))
async def search(request: Request) -> Response:
    """Body: SearchRequest. Answer: SearchResponse (hits, model_version, timings)."""
    return message_response(await call(request, await parse_body(request, pb.SearchRequest())))


@router.post("/v1/search/batch", **calls(Rpc("IndexService", "BatchSearch")))
async def batch_search(request: Request) -> Response:
    """Body: BatchSearchRequest (`queries`). Answer: BatchSearchResponse."""
    return message_response(await call(request, await parse_body(request, pb.BatchSearchRequest())))


@router.post("/v1/documents", **calls(Rpc("IndexService", "Upsert")))
async def upsert(request: Request) -> Response:
    """Body: UpsertRequest (`documents`: id, text, metadata). Answer: `upserted`, `model_version`."""
    return message_response(await call(request, await parse_body(request, pb.UpsertRequest())))


# A colon, not a path segment: `/v1/documents/count` would be the document whose id is "count".
@router.get("/v1/documents:count", **calls(Rpc("IndexService", "Count")))
async def count(request: Request) -> Response:
    """Answer: `count`, the documents in the index."""
    return message_response(await call(request, pb.CountRequest()))


@router.get("/v1/documents/{document_id}", **calls(Rpc("IndexService", "Get")))
async def get_document(request: Request, document_id: str) -> Response:
    """The stored document (id, text, metadata); 404 if there is none."""
    response: pb.GetResponse = await call(request, pb.GetRequest(ids=[document_id]))
    return json_response(as_dict(response.documents[0]))


@router.delete("/v1/documents/{document_id}", **calls(Rpc("IndexService", "Delete")))
async def delete_document(request: Request, document_id: str, ignore_missing: bool = False) -> Response:
    """Answer: `deleted`; 404 for an unknown id unless `?ignore_missing=true`."""
    return message_response(
        await call(request, pb.DeleteRequest(ids=[document_id], ignore_missing=ignore_missing))
    )
