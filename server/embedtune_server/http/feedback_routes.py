"""POST /v1/feedback: SubmitFeedback over JSON.

Body: the proto3 JSON of SubmitFeedbackRequest, e.g.
`{"items": [{"pair": {"anchor": {"text": "q"}, "positive": {"document_id": "d1"}}}]}`.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from embedtune_client.v1 import embedtune_pb2 as pb
from embedtune_server.http.calls import Rpc, call
from embedtune_server.http.protojson import message_response, parse_body
from embedtune_server.http.routing import RpcRoute, calls

router = APIRouter(route_class=RpcRoute, tags=["feedback"])


@router.post("/v1/feedback", **calls(Rpc("FeedbackService", "SubmitFeedback")))
async def submit_feedback(request: Request) -> Response:
    """Answer: `ids`, the stored items' ids, in order."""
    return message_response(await call(request, await parse_body(request, pb.SubmitFeedbackRequest())))
