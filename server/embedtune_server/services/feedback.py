"""FeedbackService: SubmitFeedback."""

from __future__ import annotations

import asyncio

from embedtune_client.v1 import embedtune_pb2 as pb
from embedtune_client.v1 import embedtune_pb2_grpc as pb_grpc
from embedtune_server.corpus import Corpus
from embedtune_server.services.errors import unary
from embedtune_server.settings import ServerSettings
from embedtune_server.state import StateHolder
from embedtune_server.validation import feedback_records


class FeedbackServicer(pb_grpc.FeedbackServiceServicer):
    def __init__(self, settings: ServerSettings, holder: StateHolder, corpus: Corpus) -> None:
        self._settings = settings
        self._holder = holder
        self._corpus = corpus

    @unary
    async def SubmitFeedback(self, request: pb.SubmitFeedbackRequest, context) -> pb.SubmitFeedbackResponse:
        records = feedback_records(request, self._settings)
        model_version = self._holder.current.model_version
        ids = await asyncio.to_thread(self._corpus.add_feedback, records, model_version)
        return pb.SubmitFeedbackResponse(ids=ids)
