"""Making a model version live: re-embed, build its serving state, catch up and swap.

1. A background child (`python -m embedtune_server.reindex`) embeds every document that
   has no vector in the version's embedding space yet, at the lowest CPU priority, and
   saves an index of the whole space at the write sequence it reflects. The live
   state's vectors are never touched: the new space's rows sit beside them.
2. The server builds the new serving state (the one function start-up uses), which
   loads that index and catches up with the writes made since, embedding new documents
   with the new version.
3. Under the corpus write lock no write can land: a last catch-up, the new index saved,
   then one transaction records the version as active (and whatever the job adds, e.g.
   its feedback as used), then the reference swaps. Every write acknowledged before is
   in the new index; every write after goes to it.
4. The retired state drains (its in-flight requests finish) before its batcher stops.

While the new index is built, the change log keeps every change since the child's index
(`Corpus.keep_changes_after`), so the catch-ups, and a restart after a crash, find them.
"""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import sys
from collections.abc import Callable, Coroutine

from embedtune_server import failpoints
from embedtune_server.jobs import record
from embedtune_server.jobs.children import run_child
from embedtune_server.jobs.context import JobContext
from embedtune_server.jobs.record import Job
from embedtune_server.jobs.runner import JobFailure, NotFoundError, PreconditionError
from embedtune_server.spaces import space_of
from embedtune_server.state import ServingState
from embedtune_server.store.models import ModelRecord
from embedtune_server.validation import ValidationError

OnCommit = Callable[[sqlite3.Connection], None]


def reindex_command(ctx: JobContext, model: ModelRecord, space: str) -> list[str]:
    settings = ctx.settings
    command = [
        sys.executable, "-m", "embedtune_server.reindex",
        "--home", str(settings.home), "--model-dir", str(model.folder), "--space", space,
        "--index-factory", settings.index_factory,
        "--index-search-params", settings.index_search_params,
        "--index-train-size", str(settings.index_train_size),
        "--sqlite-synchronous", settings.sqlite_synchronous,
        "--max-batch-tokens", str(settings.max_batch_tokens),
    ]  # fmt: skip
    return [*command, "--quantize"] if settings.quantize else command


async def activate(ctx: JobContext, job: Job, model: ModelRecord, on_commit: OnCommit | None = None) -> None:
    """Serve `model`: the job is activated when this returns, or ends failed through JobFailure."""
    job.enter(record.REINDEXING)
    ctx.runner.changed(job, persist=True)
    space = space_of(model.version, ctx.settings.quantize)
    ctx.corpus.keep_changes_after = ctx.database.write_seq()
    try:
        result = await run_child(
            reindex_command(ctx, model, space),
            ctx.job_folder(job.id) / "reindex.log",
            lambda event: _progress(ctx, job, event),
        )
        if result.returncode != 0:
            raise JobFailure(f"re-embedding the documents with {model.version} failed: {result.error_line}")
        state = await ctx.builder.build(model)
        try:
            await _uncancellable(_swap(ctx, job, model, state, on_commit))
        except BaseException:
            if ctx.holder.current is not state:
                await state.batcher.stop()
            raise
    finally:
        if ctx.holder.current.space != space:  # not swapped: the floor goes with the attempt
            ctx.corpus.keep_changes_after = None
        await asyncio.to_thread(shutil.rmtree, ctx.corpus.building_folder(space), True)


def _progress(ctx: JobContext, job: Job, event: dict) -> None:
    if event.get("event") == "progress":
        job.advance(int(event["done"]), int(event["total"]), str(event.get("unit", "documents")))
        ctx.runner.changed(job)


async def _swap(
    ctx: JobContext, job: Job, model: ModelRecord, state: ServingState, on_commit: OnCommit | None
) -> None:
    await ctx.builder.catch_up(state)  # most writes since the child's index, without blocking writers
    async with ctx.corpus.write_lock:
        await ctx.builder.catch_up(state)  # the last few: none can land until the swap
        await asyncio.to_thread(ctx.corpus.save_index, state)  # saved before it is recorded active

        def commit() -> None:
            job.enter(record.ACTIVATED)
            with ctx.database.write() as connection:
                ctx.registry.set_active(connection, model.version)
                if on_commit is not None:
                    on_commit(connection)
                ctx.runner.changed(job, persist=True, connection=connection)

        await asyncio.to_thread(commit)
        retired = ctx.holder.swap(state)
    ctx.corpus.keep_changes_after = None
    await failpoints.reach(failpoints.AFTER_SWAP_COMMIT)
    task = asyncio.create_task(ctx.builder.release(retired))
    ctx.releasing.add(task)
    task.add_done_callback(ctx.releasing.discard)


async def _uncancellable(step: Coroutine) -> None:
    """Run `step` to its end even if the job is cancelled meanwhile: a swap is never half done.

    A cancellation that arrives during it is absorbed: the swap's own outcome (the job
    activated, or its error) decides how the job ends.
    """
    task = asyncio.ensure_future(step)
    try:
        await asyncio.shield(task)
    except asyncio.CancelledError:
        await task


async def start_activation(ctx: JobContext, version: str) -> Job:
    """ActivateModel: a job that serves `version` (rollback or forward)."""
    if not version:
        raise ValidationError("version: empty; ListModels names the versions")
    await ctx.runner.refuse_if_busy()
    model = ctx.registry.get(version)
    if model is None:
        known = ", ".join(m.version for m in ctx.registry.all())
        raise NotFoundError(f"version: no model version {version!r}; known: {known}")
    if not model.ready:
        raise PreconditionError(f"version: {version} was rejected by its gate and cannot be activated")
    current = ctx.holder.current.model_version
    if version == current:
        raise PreconditionError(f"version: {version} is already active")
    job = Job(id=0, kind=record.ACTIVATE, base_version=current, version=version)
    return ctx.runner.submit(job, lambda j: activate(ctx, j, model))
