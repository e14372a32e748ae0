"""Training jobs and model versions over JSON: thin routes over TrainingService and ModelService.

Every one needs the admin key (the proto marks these methods `admin_only`). A job is
answered as the proto3 JSON of `Job`; starting one while another runs is 409.
"""

from __future__ import annotations

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from embedtune_client.v1 import embedtune_pb2 as pb
from embedtune_server.http.calls import Rpc, call
from embedtune_server.http.protojson import UINT32_MAX, message_response, parse_body
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
