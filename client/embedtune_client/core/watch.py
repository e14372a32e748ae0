"""The plan behind `wait()`: follow a job over the WatchJob stream until it ends.

The server sends the job as it is, then every change, and ends the stream after a
terminal state. A stream that breaks with a retryable code (UNAVAILABLE while the
server restarts) or ends early is subscribed to again after the retry policy's backoff,
for as long as the caller's timeout allows rather than for the policy's few attempts,
since a restart can take longer than those. The new stream starts with the job as it is
then, so no state change is lost, only intermediate progress.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

import grpc

from embedtune_client.core import calls, convert
from embedtune_client.core.calls import Call, Plan, Read, Stream
from embedtune_client.core.retry import RetryPolicy
from embedtune_client.errors import error_from_rpc
from embedtune_client.results import Job
from embedtune_client.v1 import embedtune_pb2 as pb

Progress = Callable[[Job], object]


def follow(
    job_id: int,
    last: Job | None,
    timeout: float | None,
    progress: Progress | None,
    retry: RetryPolicy,
    rng: random.Random,
) -> Plan[Job]:
    """The job once it reaches a terminal state; `progress(job)` is called for every message.

    `last` is the job as the caller knew it (for the TimeoutError message). Raises
    TimeoutError when `timeout` seconds pass, or would pass before the next subscription,
    and the typed EmbedtuneError for a code that is not retryable.
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    call = Call(calls.WATCH_JOB, pb.GetJobRequest(id=job_id))
    failures = 0
    delay = 0.0
    while True:
        remaining = None if deadline is None else deadline - time.monotonic() - delay
        if remaining is not None and remaining <= 0:
            raise _timed_out(job_id, timeout, last)
        stream = yield Stream(call, remaining, delay)
        try:
            while (answer := (yield Read(stream))) is not None and not isinstance(answer, grpc.RpcError):
                failures = 0
                last = convert.job(answer)
                if progress is not None:
                    progress(last)
                if last.done:
                    return last
        finally:
            stream.cancel()
        code = answer.code() if isinstance(answer, grpc.RpcError) else None
        if code == grpc.StatusCode.DEADLINE_EXCEEDED and deadline is not None:
            raise _timed_out(job_id, timeout, last)
        if code is not None and code not in retry.codes:
            raise error_from_rpc(answer, calls.WATCH_JOB.name)
        # UNAVAILABLE, RESOURCE_EXHAUSTED, or a stream that ended before the job did.
        failures += 1
        delay = retry.backoff(failures, rng)


def _timed_out(job_id: int, timeout: float | None, last: Job | None) -> TimeoutError:
    state = last.state if last is not None else "unknown"
    return TimeoutError(f"job {job_id} did not end within {timeout:g} s; its last state was {state}")
