"""The job runner: one job at a time, its record kept in the store, its changes streamed.

A job's work is a coroutine (`training.py`, `activation.py`, `add_model.py`) that
moves the job through its states; the runner owns everything around it: refusing a
second job while one runs, recording each change (a state change at once, progress at
most once a second), waking WatchJob streams, turning cancellation and errors into
the job's final state, and marking jobs that a dead server left unfinished as failed.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

from embedtune_server.jobs import record
from embedtune_server.jobs.record import Job
from embedtune_server.store.database import Database
from embedtune_server.store.jobs import JobStore

log = logging.getLogger(__name__)

# Progress reaches the store at most this often; state changes always do.
_PERSIST_PROGRESS_S = 1.0

Work = Callable[[Job], Awaitable[None]]


class PreconditionError(Exception):
    """The server is not in a state to start this (FAILED_PRECONDITION); the message says why."""


class JobConflictError(PreconditionError):
    """Another job is running."""


class NotFoundError(Exception):
    """No job or model version by this name (NOT_FOUND)."""


@dataclass(frozen=True)
class JobFailure(Exception):
    """A job ends in `state` (failed or rejected) for `reason`; raised by a job's work."""

    reason: str
    state: str = record.FAILED

    def __str__(self) -> str:
        return self.reason


class JobRunner:
    def __init__(self, database: Database) -> None:
        self._database = database
        self._store = JobStore(database)
        self._current: Job | None = None
        self._task: asyncio.Task | None = None
        self._cancel_requested = False
        # Set (and replaced) at every change: a watcher waits on the one it saw last.
        self._changed = asyncio.Event()
        self._persisted_at = 0.0
        self.finished_hooks: list[Callable[[Job], Awaitable[None]]] = []

    # ------------------------------------------------------------------ start-up

    def fail_unfinished(self) -> list[Job]:
        """Mark the jobs a stopped server left unfinished as failed; returns them."""
        failed = []
        for text in self._store.unfinished():
            job = Job.from_json(text)
            interrupted = job.state
            job.enter(record.FAILED)
            job.reason = f"interrupted: the server stopped while the job was {interrupted}"
            with self._database.write() as connection:
                self._store.update(connection, job.id, job.state, job.to_json(), finished=True)
            failed.append(job)
        return failed

    # ------------------------------------------------------------------- running

    @property
    def running(self) -> Job | None:
        return self._current if self._task is not None and not self._task.done() else None

    async def refuse_if_busy(self) -> None:
        """Refuse while a job runs. One that has ended but is still in its after-job hooks
        (retention) is waited for instead, so the next job starts clean."""
        if self._task is not None and self._current is not None and self._current.finished:
            await asyncio.wait([self._task])
        self._refuse_running()

    def _refuse_running(self) -> None:
        running = self.running
        if running is not None:
            raise JobConflictError(
                f"job {running.id} ({running.kind}, {running.state}) is running;"
                " cancel it or wait for it to end"
            )

    def submit(self, job: Job, work: Work) -> Job:
        """Record `job` (queued) and run `work` on it; the caller checked `refuse_if_busy` first."""
        self._refuse_running()
        with self._database.write() as connection:
            job.id = self._store.insert(connection, job.kind, job.state, job.to_json())
        self._current = job
        self._cancel_requested = False
        self._task = asyncio.create_task(self._run(job, work), name=f"embedtune-job-{job.id}")
        return job

    async def _run(self, job: Job, work: Work) -> None:
        try:
            await work(job)
        except asyncio.CancelledError:
            reason = "cancelled by request" if self._cancel_requested else "the server stopped"
            self.finish(job, record.CANCELLED if self._cancel_requested else record.FAILED, reason)
        except JobFailure as failure:
            self.finish(job, failure.state, failure.reason)
        except Exception as exc:
            log.exception("job %d failed", job.id)
            self.finish(job, record.FAILED, f"internal error: {type(exc).__name__}: {exc}")
        else:
            if not job.finished:
                self.finish(job, record.ACTIVATED)
        for hook in self.finished_hooks:
            try:
                await hook(job)
            except Exception:
                log.exception("after job %d", job.id)

    def finish(self, job: Job, state: str, reason: str = "") -> None:
        job.enter(state)
        job.reason = reason or job.reason
        self.changed(job, persist=True)

    def changed(self, job: Job, persist: bool = False, connection: sqlite3.Connection | None = None) -> None:
        """Record a change of `job` (in `connection`'s transaction when given) and wake its watchers."""
        now = time.monotonic()
        if persist or job.finished or now - self._persisted_at >= _PERSIST_PROGRESS_S:
            self._persisted_at = now
            if connection is not None:
                self._store.update(connection, job.id, job.state, job.to_json(), job.finished)
            else:
                with self._database.write() as own:
                    self._store.update(own, job.id, job.state, job.to_json(), job.finished)
        self._changed.set()
        self._changed = asyncio.Event()

    async def cancel(self, job_id: int) -> Job:
        """Stop job `job_id` if it runs and return it as it ends; a finished job as it is."""
        job = self.get(job_id)
        if self.running is not None and self.running.id == job_id and self._task is not None:
            self._cancel_requested = True
            self._task.cancel()
            await asyncio.wait([self._task])
            return self._current or job
        return job

    async def stop(self) -> None:
        """Server shutdown: a running job ends as failed ("the server stopped")."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
            await asyncio.wait([self._task])

    # --------------------------------------------------------------------- reads

    def get(self, job_id: int) -> Job:
        if self._current is not None and self._current.id == job_id:
            return self._current
        text = self._store.get(job_id)
        if text is None:
            raise NotFoundError(f"id: no job {job_id}")
        return Job.from_json(text)

    def newest(self, limit: int) -> list[Job]:
        jobs = [Job.from_json(text) for text in self._store.newest(limit)]
        return [self._current if self._current and j.id == self._current.id else j for j in jobs]

    async def watch(self, job_id: int) -> AsyncIterator[Job]:
        """The job now, then after every change, until it has ended."""
        while True:
            changed = self._changed  # taken before the job is read: no change can slip between
            job = self.get(job_id)
            yield job
            if job.finished:
                return
            await changed.wait()
