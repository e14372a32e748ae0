"""TrainingService: StartTraining, GetJob, ListJobs, WatchJob, CancelJob."""

from __future__ import annotations

from collections.abc import AsyncIterator

from embedtune_client.v1 import embedtune_pb2 as pb
from embedtune_client.v1 import embedtune_pb2_grpc as pb_grpc
from embedtune_server.jobs.context import JobContext
from embedtune_server.jobs.options import from_proto
from embedtune_server.jobs.training import start_training
from embedtune_server.services.errors import streaming, unary
from embedtune_server.services.jobs_convert import job_message

# ListJobs without a limit returns this many.
DEFAULT_JOB_LIST = 50


class TrainingServicer(pb_grpc.TrainingServiceServicer):
    def __init__(self, ctx: JobContext) -> None:
        self._ctx = ctx

    @unary
    async def StartTraining(self, request: pb.StartTrainingRequest, context) -> pb.Job:
        return job_message(await start_training(self._ctx, from_proto(request.options)))

    @unary
    async def GetJob(self, request: pb.GetJobRequest, context) -> pb.Job:
        return job_message(self._ctx.runner.get(request.id))

    @unary
    async def ListJobs(self, request: pb.ListJobsRequest, context) -> pb.ListJobsResponse:
        jobs = self._ctx.runner.newest(request.limit or DEFAULT_JOB_LIST)
        return pb.ListJobsResponse(jobs=[job_message(job) for job in jobs])

    @streaming
    async def WatchJob(self, request: pb.GetJobRequest, context) -> AsyncIterator[pb.Job]:
        async for job in self._ctx.runner.watch(request.id):
            yield job_message(job)

    @unary
    async def CancelJob(self, request: pb.GetJobRequest, context) -> pb.Job:
        return job_message(await self._ctx.runner.cancel(request.id))
