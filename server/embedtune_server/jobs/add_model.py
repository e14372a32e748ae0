"""An add-model job: a model from the server's disk or the Hub becomes a registered version.

A folder that already has the ONNX graph the server serves is copied as it is; any
other source (a sentence-transformers folder without an export, a Hub id) goes through
the trainer's export in a background child, which also validates it. The version is
written under a partial name and listed only when complete; it is not activated (the
job ends "activated" all the same: for an add-model job that state means registered).
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

from embedtune_server.bootstrap import MODELS_DIR, export_command, partial_folder, registered
from embedtune_server.durable import replace_durably
from embedtune_server.jobs import record
from embedtune_server.jobs.children import run_child
from embedtune_server.jobs.context import JobContext
from embedtune_server.jobs.record import Job
from embedtune_server.jobs.runner import JobFailure
from embedtune_server.validation import ValidationError


def served_graph(folder: Path, quantized: bool) -> Path:
    return folder / "onnx" / ("model_qint8.onnx" if quantized else "model.onnx")


async def start_add_model(ctx: JobContext, source: str) -> Job:
    if not source.strip():
        raise ValidationError("source: empty; give a model folder on the server or a Hugging Face Hub id")
    await ctx.runner.refuse_if_busy()
    job = Job(id=0, kind=record.ADD_MODEL, base_version=ctx.holder.current.model_version)
    job.options = {"source": source}
    job.version = await asyncio.to_thread(ctx.reserve_version)
    return ctx.runner.submit(job, lambda j: _add(ctx, j, source.strip()))


async def _add(ctx: JobContext, job: Job, source: str) -> None:
    job.enter(record.EXPORTING)
    ctx.runner.changed(job, persist=True)
    home = ctx.settings.home
    partial = partial_folder(home, job.version)
    given = Path(source).expanduser()
    try:
        if served_graph(given, ctx.settings.quantize).is_file():
            await asyncio.to_thread(shutil.copytree, given, partial)
        else:
            result = await run_child(
                export_command(source, partial), ctx.job_folder(job.id) / "export.log", lambda event: None
            )
            if result.returncode != 0:
                raise JobFailure(f"cannot add {source!r}: {result.error_line}")
        if not served_graph(partial, ctx.settings.quantize).is_file():
            raise JobFailure(
                f"cannot add {source!r}: it has no {served_graph(Path(), ctx.settings.quantize)}"
            )
        folder = home / MODELS_DIR / job.version
        await asyncio.to_thread(replace_durably, partial, folder)
        model = registered(folder, job.version, source, parent="", job_id=job.id)
        with ctx.database.write() as connection:
            ctx.registry.add(connection, model)
    finally:
        if partial.exists():
            await asyncio.to_thread(shutil.rmtree, partial, True)
