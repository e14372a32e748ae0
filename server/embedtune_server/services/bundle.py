"""One instance of each servicer, shared by the gRPC server and the HTTP edge.

The HTTP routes call these same objects' methods, so both protocols run one
validation, one batcher and one serving state.
"""

from __future__ import annotations

from dataclasses import dataclass

from embedtune_server.corpus import Corpus
from embedtune_server.jobs.context import JobContext
from embedtune_server.services.embed import EmbedServicer
from embedtune_server.services.feedback import FeedbackServicer
from embedtune_server.services.index import IndexServicer
from embedtune_server.services.models import ModelServicer
from embedtune_server.services.rerank import Reranking
from embedtune_server.services.training import TrainingServicer
from embedtune_server.settings import ServerSettings
from embedtune_server.state import StateHolder

# The Servicers field of each proto service.
_FIELDS = {
    "EmbedService": "embed",
    "IndexService": "index",
    "FeedbackService": "feedback",
    "TrainingService": "training",
    "ModelService": "models",
}


@dataclass(frozen=True)
class Servicers:
    embed: EmbedServicer
    index: IndexServicer
    feedback: FeedbackServicer
    training: TrainingServicer
    models: ModelServicer

    @classmethod
    def build(
        cls,
        settings: ServerSettings,
        holder: StateHolder,
        corpus: Corpus,
        jobs: JobContext,
        reranking: Reranking,
    ) -> Servicers:
        return cls(
            embed=EmbedServicer(settings, holder, reranking),
            index=IndexServicer(settings, holder, corpus, reranking),
            feedback=FeedbackServicer(settings, holder, corpus),
            training=TrainingServicer(jobs),
            models=ModelServicer(jobs),
        )

    def of(self, service: str) -> object:
        """The servicer of a proto service, by its name in embedtune.proto ("EmbedService")."""
        return getattr(self, _FIELDS[service])
