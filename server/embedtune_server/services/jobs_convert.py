"""Jobs and model versions as protobuf messages.

Job states and kinds map to the proto enums by name ("training" is
JOB_STATE_TRAINING), so the server's names and the contract's cannot drift.
"""

from __future__ import annotations

from embedtune_client.v1 import embedtune_pb2 as pb
from embedtune_server.jobs.options import TrainingOptions
from embedtune_server.jobs.record import Job
from embedtune_server.store.models import ModelRecord


def job_message(job: Job) -> pb.Job:
    options = (
        TrainingOptions(**job.options).to_proto()
        if job.kind == "train" and job.options
        else pb.TrainingOptions()
    )
    gate = pb.Gate(**job.gate) if job.gate else None
    return pb.Job(
        id=job.id,
        kind=pb.JobKind.Value(f"JOB_KIND_{job.kind.upper()}"),
        state=pb.JobState.Value(f"JOB_STATE_{job.state.upper()}"),
        progress=pb.JobProgress(
            done=job.progress.done, total=job.progress.total, unit=job.progress.unit, eta_s=job.progress.eta_s
        ),
        options=options,
        base_version=job.base_version,
        version=job.version,
        feedback_first_id=job.feedback_first_id,
        feedback_last_id=job.feedback_last_id,
        feedback_counts=job.feedback_counts,
        metrics_active=job.metrics_active,
        metrics_new=job.metrics_new,
        gate=gate,
        reason=job.reason,
        state_seconds=job.state_seconds,
        created_at=job.created_at,
        finished_at=job.finished_at,
    )


def model_message(model: ModelRecord, active: str | None) -> pb.ModelVersionInfo:
    details = model.details
    counts = {
        kind: sum(count.values()) if isinstance(count, dict) else int(count)
        for kind, count in details.get("feedback_counts", {}).items()
    }
    return pb.ModelVersionInfo(
        version=model.version,
        parent=model.parent,
        base_model=model.base_model,
        created_at=model.created_at,
        losses=details.get("losses", {}),
        feedback_counts=counts,
        metrics=details.get("metrics_new") or details.get("metrics", {}),
        active=model.version == active,
        job_id=model.job_id,
        status=model.status,
    )
