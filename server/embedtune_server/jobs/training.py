"""A training job: snapshot the unused feedback, train and gate in a child, then activate.

1. The unused feedback is written to the job's folder (the job records the id range),
   so feedback arriving meanwhile waits for the next job.
2. The trainer (`python -m embedtune_trainer feedback-train`) runs as a background
   child: it fine-tunes the base version with each kind's loss, scores the held-out
   part with the active and the new version (the gate), and exports the new one to
   ONNX into a partial folder. Its states and progress become the job's.
3. The folder is renamed to models/<version> and registered: "rejected" when the gate
   kept the active version (the job ends rejected), else "ready", and the version is
   activated; its feedback counts as used in the same transaction.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys

from embedtune_server.bootstrap import MODELS_DIR, partial_folder, registered
from embedtune_server.durable import replace_durably
from embedtune_server.jobs import record
from embedtune_server.jobs.activation import activate
from embedtune_server.jobs.children import run_child
from embedtune_server.jobs.context import JobContext
from embedtune_server.jobs.options import TrainingOptions
from embedtune_server.jobs.record import Job
from embedtune_server.jobs.runner import JobFailure, NotFoundError, PreconditionError
from embedtune_server.store.feedback import FeedbackStore, Snapshot
from embedtune_server.store.models import READY, REJECTED, ModelRecord

# States the trainer reports, in the order it passes them.
_TRAINER_STATES = (record.TRAINING, record.EVALUATING, record.EXPORTING)
# Exit status of a trainer that refused its input (its stderr's last line says why).
_BAD_INPUT = 2


def base_model(ctx: JobContext, version: str) -> ModelRecord:
    """The version a job starts from: `version`, or the active one; it must be ready."""
    name = version or ctx.holder.current.model_version
    model = ctx.registry.get(name)
    if model is None:
        raise NotFoundError(f"options.base_version: no model version {name!r}")
    if not model.ready:
        raise PreconditionError(
            f"options.base_version: {name} was rejected by its gate and cannot be trained on"
        )
    return model


async def start_training(ctx: JobContext, options: TrainingOptions) -> Job:
    """Validate, resolve each kind's loss, and start the job; errors name what to change."""
    await ctx.runner.refuse_if_busy()
    base = base_model(ctx, options.base_version)
    kinds = await asyncio.to_thread(_unused_kinds, ctx)
    unused = sum(count for count, _ in kinds.values())
    if unused < options.min_feedback:
        raise PreconditionError(
            f"{unused} unused feedback items; a job needs min_feedback={options.min_feedback}"
        )
    catalog = await ctx.catalog.get()
    losses = {
        kind: catalog.resolve(
            kind, catalog.label_kind(kind, has_float), options.losses.get(kind), f"options.losses[{kind!r}]"
        )
        for kind, (_, has_float) in kinds.items()
    }
    for kind, loss in options.losses.items():
        if kind not in kinds:  # no such feedback now: the name must still be a loss
            catalog.canonical(loss, f"options.losses[{kind!r}]")
    resolved = TrainingOptions(**{**options.to_dict(), "losses": losses, "base_version": base.version})
    job = Job(id=0, kind=record.TRAIN, options=resolved.to_dict(), base_version=base.version)
    job.version = await asyncio.to_thread(ctx.reserve_version)
    return ctx.runner.submit(job, lambda j: _train(ctx, j, base, resolved))


def _unused_kinds(ctx: JobContext) -> dict[str, tuple[int, bool]]:
    """Unused feedback by kind: (count, whether any label is a float score)."""
    rows = ctx.database.connection().execute(
        "SELECT kind, COUNT(*), MAX(json_type(item, '$.label') = 'real') FROM feedback"
        " WHERE consumed_by IS NULL GROUP BY kind"
    )
    return {kind: (count, bool(has_float)) for kind, count, has_float in rows}


def _write_snapshot(ctx: JobContext, job: Job) -> Snapshot:
    folder = ctx.job_folder(job.id)
    folder.mkdir(parents=True, exist_ok=True)
    with ctx.database.snapshot() as connection:
        return FeedbackStore.write_snapshot(connection, folder / "feedback.jsonl")


def trainer_command(
    ctx: JobContext, job: Job, base: ModelRecord, snapshot: Snapshot, options: TrainingOptions
) -> list[str]:
    trainer_options = {
        k: v for k, v in options.to_dict().items() if k not in ("min_feedback", "base_version")
    }
    return [
        sys.executable, "-m", "embedtune_trainer", "feedback-train",
        "--feedback", str(snapshot.path), "--base", str(base.folder),
        "--reference", str(ctx.holder.current.model_dir),
        "--output", str(partial_folder(ctx.settings.home, job.version)),
        "--version", job.version, "--parent", base.version, "--options", json.dumps(trainer_options),
        "--threads", str(ctx.settings.train_threads or os.cpu_count() or 1),
    ]  # fmt: skip


async def _train(ctx: JobContext, job: Job, base: ModelRecord, options: TrainingOptions) -> None:
    snapshot = await asyncio.to_thread(_write_snapshot, ctx, job)
    job.feedback_first_id, job.feedback_last_id = snapshot.first_id, snapshot.last_id
    job.feedback_counts = dict(snapshot.counts)
    ctx.runner.changed(job, persist=True)
    partial = partial_folder(ctx.settings.home, job.version)
    outcome: dict = {}

    def on_event(event: dict) -> None:
        kind = event.get("event")
        if kind == "state" and event.get("state") in _TRAINER_STATES:
            job.enter(event["state"])
            ctx.runner.changed(job, persist=True)
        elif kind == "progress":
            job.advance(int(event["done"]), int(event["total"]), str(event.get("unit", "")))
            ctx.runner.changed(job)
        elif kind == "result":
            outcome.update(event)

    try:
        result = await run_child(
            trainer_command(ctx, job, base, snapshot, options),
            ctx.job_folder(job.id) / "trainer.log",
            on_event,
        )
        if result.returncode == _BAD_INPUT:
            raise JobFailure(result.error_line)
        if result.returncode != 0 or not outcome:
            raise JobFailure(f"the trainer failed: {result.error_line}")
        job.metrics_active = outcome.get("metrics_active", {})
        job.metrics_new = outcome.get("metrics_new", {})
        job.gate = outcome.get("gate")
        accepted = bool(outcome.get("accepted"))
        model = await asyncio.to_thread(_register, ctx, job, base, READY if accepted else REJECTED)
    finally:
        if partial.exists():
            await asyncio.to_thread(shutil.rmtree, partial, True)
    if not accepted:
        raise JobFailure(outcome.get("reason") or "the gate kept the active version", state=record.REJECTED)
    first, last = snapshot.first_id, snapshot.last_id
    await activate(ctx, job, model, lambda c: FeedbackStore.mark_consumed(c, first, last, model.version))


def _register(ctx: JobContext, job: Job, base: ModelRecord, status: str) -> ModelRecord:
    """Move the trainer's folder into models/ and list it; a crash between the two leaves an orphan folder
    that the next start removes, never a listed version without its folder."""
    folder = ctx.settings.home / MODELS_DIR / job.version
    replace_durably(partial_folder(ctx.settings.home, job.version), folder)
    model = registered(
        folder,
        job.version,
        base.base_model,
        base_model=base.base_model,
        parent=base.version,
        status=status,
        job_id=job.id,
    )
    with ctx.database.write() as connection:
        ctx.registry.add(connection, model)
    return model
