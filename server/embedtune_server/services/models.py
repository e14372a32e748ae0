"""ModelService: ListModels, ActivateModel, AddModel."""

from __future__ import annotations

from embedtune_client.v1 import embedtune_pb2 as pb
from embedtune_client.v1 import embedtune_pb2_grpc as pb_grpc
from embedtune_server.jobs.activation import start_activation
from embedtune_server.jobs.add_model import start_add_model
from embedtune_server.jobs.context import JobContext
from embedtune_server.services.errors import unary
from embedtune_server.services.jobs_convert import job_message, model_message


class ModelServicer(pb_grpc.ModelServiceServicer):
    def __init__(self, ctx: JobContext) -> None:
        self._ctx = ctx

    @unary
    async def ListModels(self, request: pb.ListModelsRequest, context) -> pb.ListModelsResponse:
        active = self._ctx.registry.active()
        return pb.ListModelsResponse(models=[model_message(m, active) for m in self._ctx.registry.all()])

    @unary
    async def ActivateModel(self, request: pb.ActivateModelRequest, context) -> pb.Job:
        return job_message(await start_activation(self._ctx, request.version))

    @unary
    async def AddModel(self, request: pb.AddModelRequest, context) -> pb.Job:
        return job_message(await start_add_model(self._ctx, request.source))
