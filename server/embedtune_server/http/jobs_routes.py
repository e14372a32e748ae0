"""Training jobs and model versions over JSON: thin routes over TrainingService and ModelService.

Every one needs the admin key (the proto marks these methods `admin_only`). A job is
answered as the proto3 JSON of `Job`; starting one while another runs is 409. Watching a
job streams newline-delimited JSON, one `Job` a line, as WatchJob streams messages.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response, StreamingResponse

from embedtune_client.v1 import embedtune_pb2 as pb
from embedtune_server.http.calls import CallContext, Rpc, call, servicer
from embedtune_server.http.errors import RpcFailure, failure_response
from embedtune_server.http.protojson import UINT32_MAX, as_dict, json_bytes, message_response, parse_body
from embedtune_server.http.routing import RpcRoute, calls

UINT64_MAX = 2**64 - 1

router = APIRouter(route_class=RpcRoute, tags=["jobs and models"])


@router.post("/v1/jobs", **calls(Rpc("TrainingService", "StartTraining")))
async def start_training(request: Request) -> Response:
    """Body: StartTrainingRequest (`options`, each optional). Answer: the new Job."""
    return message_response(await call(request, await parse_body(request, pb.StartTrainingRequest())))


@router.get("/v1/jobs", **calls(Rpc("TrainingService", "ListJobs")))
async def list_jobs(request: Request, limit: int = Query(0, ge=0, le=UINT32_MAX)) -> Response:
    """The newest jobs first (`limit` 0: the server's default count)."""
    return message_response(await call(request, pb.ListJobsRequest(limit=limit)))


@router.get("/v1/jobs/{job_id}", **calls(Rpc("TrainingService", "GetJob")))
async def get_job(request: Request, job_id: int = Path(ge=0, le=UINT64_MAX)) -> Response:
    return message_response(await call(request, pb.GetJobRequest(id=job_id)))


@router.get("/v1/jobs/{job_id}/watch", **calls(Rpc("TrainingService", "WatchJob")))
async def watch_job(request: Request, job_id: int = Path(ge=0, le=UINT64_MAX)) -> Response:
    """The job now, then after every change, one Job a line (`application/x-ndjson`); the
    stream ends after the line of the finished job. An unknown job is 404 before it starts."""
    jobs = servicer(request).WatchJob(pb.GetJobRequest(id=job_id), CallContext())
    first = await anext(jobs)
    return StreamingResponse(_lines(first, jobs), media_type="application/x-ndjson")


async def _lines(first: pb.Job, jobs: AsyncIterator[pb.Job]) -> AsyncIterator[bytes]:
    """Each job as a line; a refusal mid-stream ends it with a line of the error shape, as gRPC
    ends a stream with a status."""
    yield json_bytes(as_dict(first)) + b"\n"
    try:
        async for job in jobs:
            yield json_bytes(as_dict(job)) + b"\n"
    except RpcFailure as failure:
        yield failure_response(failure).body + b"\n"


@router.post("/v1/jobs/{job_id}/cancel", **calls(Rpc("TrainingService", "CancelJob")))
async def cancel_job(request: Request, job_id: int = Path(ge=0, le=UINT64_MAX)) -> Response:
    return message_response(await call(request, pb.GetJobRequest(id=job_id)))


@router.get("/v1/models/versions", **calls(Rpc("ModelService", "ListModels")))
async def list_versions(request: Request) -> Response:
    """Every model version with its lineage, metrics and status."""
    return message_response(await call(request, pb.ListModelsRequest()))


@router.post("/v1/models/versions", **calls(Rpc("ModelService", "AddModel")))
async def add_model(request: Request) -> Response:
    """Body: AddModelRequest (`source`: a folder or a Hub id). Answer: the add-model Job."""
    return message_response(await call(request, await parse_body(request, pb.AddModelRequest())))


@router.post("/v1/models/versions/{version}/activate", **calls(Rpc("ModelService", "ActivateModel")))
async def activate(request: Request, version: str) -> Response:
    """Answer: the activation Job; the swap happens when it ends."""
    return message_response(await call(request, pb.ActivateModelRequest(version=version)))
