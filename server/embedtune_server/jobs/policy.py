"""Automatic training: a job starts by itself once enough new feedback has arrived.

`--auto-train-every N` starts a training job (with the default options) when at least
N unused feedback items arrived after the newest training job's snapshot, no job is
running, and `--auto-train-min-interval-s` passed since the last automatic start. Only
feedback newer than the last snapshot counts, so a rejected job is not retried on the
same feedback over and over.
"""

from __future__ import annotations

import asyncio
import logging
import time

from embedtune_server.jobs import record
from embedtune_server.jobs.context import JobContext
from embedtune_server.jobs.options import TrainingOptions
from embedtune_server.jobs.runner import PreconditionError
from embedtune_server.jobs.training import start_training
from embedtune_server.store.feedback import FeedbackStore

log = logging.getLogger(__name__)

# How often the policy looks at the feedback count.
POLL_S = 2.0


class AutoTrainPolicy:
    def __init__(self, ctx: JobContext, every: int, min_interval_s: float) -> None:
        self._ctx = ctx
        self._every = every
        self._min_interval_s = min_interval_s
        self._last_start = -float("inf")

    async def run(self) -> None:
        while True:
            await asyncio.sleep(POLL_S)
            try:
                await self.check()
            except Exception:
                log.exception("auto-training check failed")

    async def check(self) -> bool:
        """Start a job if the policy says so; True if one started."""
        ctx = self._ctx
        if ctx.runner.running is not None or time.monotonic() - self._last_start < self._min_interval_s:
            return False
        after = max((j.feedback_last_id for j in ctx.runner.newest(20) if j.kind == record.TRAIN), default=0)
        fresh = await asyncio.to_thread(lambda: FeedbackStore.unused_count(ctx.database.connection(), after))
        if fresh < self._every:
            return False
        try:
            job = await start_training(ctx, TrainingOptions(min_feedback=self._every))
        except PreconditionError as exc:
            log.info("auto-training not started: %s", exc)
            return False
        self._last_start = time.monotonic()
        log.info("auto-training started job %d on %d new feedback items", job.id, fresh)
        return True
