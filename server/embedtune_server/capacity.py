"""What all serving states alive at once share: one admission limit and one CPU budget.

During a model swap the old state drains while the new one serves; each has its own
batcher and inference streams. Sharing these two objects keeps the server at
`max_concurrent_requests` admitted requests and at `inference_streams` batches running
at once, however many states are alive.
"""

from __future__ import annotations

import threading

from embedtune_server.metrics import ServerMetrics


class OverloadedError(Exception):
    """The server is at `max_concurrent_requests`; the caller may retry later."""


class Admission:
    """Counts admitted embedding requests; past the limit a request fails at once.

    Used only from the event loop, so a plain counter is enough.
    """

    def __init__(self, limit: int, metrics: ServerMetrics) -> None:
        self.limit = limit
        self._metrics = metrics
        self.in_flight = 0

    def enter(self) -> None:
        if self.in_flight >= self.limit:
            self._metrics.rejected.inc()
            raise OverloadedError(
                f"{self.in_flight} requests in flight reaches max_concurrent_requests={self.limit};"
                " retry later"
            )
        self.in_flight += 1
        self._metrics.in_flight.inc()

    def exit(self) -> None:
        self.in_flight -= 1
        self._metrics.in_flight.dec()


class CpuBudget:
    """At most `slots` inference batches run at once, across every batcher."""

    def __init__(self, slots: int) -> None:
        self.slots = slots
        self._semaphore = threading.BoundedSemaphore(slots)

    def __enter__(self) -> CpuBudget:
        self._semaphore.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self._semaphore.release()
