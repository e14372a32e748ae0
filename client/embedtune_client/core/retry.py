"""When to retry a failed call, and how long to wait first."""

from __future__ import annotations

import random
from dataclasses import dataclass

import grpc

# The server sheds load with RESOURCE_EXHAUSTED before doing any work, and
# UNAVAILABLE means the connection failed or the server is restarting.
RETRYABLE_CODES = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED})


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter, for idempotent calls only.

    Attempt n (1-based) that fails with a code in `codes` waits a random time in
    [0, min(max_backoff, initial_backoff * multiplier**(n-1))] seconds and tries again,
    up to `max_attempts` attempts in all. Full jitter keeps many clients that failed
    together from retrying together. `RetryPolicy(max_attempts=1)` turns retries off.
    """

    max_attempts: int = 5
    initial_backoff: float = 0.1
    max_backoff: float = 5.0
    multiplier: float = 2.0
    codes: frozenset[grpc.StatusCode] = RETRYABLE_CODES

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {self.max_attempts}")
        if self.initial_backoff < 0 or self.max_backoff < 0:
            raise ValueError("backoff times must not be negative")
        if self.multiplier < 1:
            raise ValueError(f"multiplier must be at least 1, got {self.multiplier}")

    def next_delay(
        self, idempotent: bool, code: grpc.StatusCode, attempt: int, rng: random.Random
    ) -> float | None:
        """Seconds to wait before retrying after failed `attempt`, or None to give up."""
        if not idempotent or code not in self.codes or attempt >= self.max_attempts:
            return None
        return self.backoff(attempt, rng)

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """The jittered wait after failed `attempt`, with no attempt limit (a watch re-subscribes
        until its own timeout)."""
        try:
            cap = min(self.max_backoff, self.initial_backoff * self.multiplier ** (attempt - 1))
        except OverflowError:  # thousands of failures in a row: long past max_backoff
            cap = self.max_backoff if self.initial_backoff else 0.0
        return rng.uniform(0.0, cap)
