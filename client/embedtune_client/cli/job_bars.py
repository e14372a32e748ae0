"""The CLI's `wait()` progress callback: one progress bar per job state.

A job measures its progress per state, in that state's unit (training steps, then
documents re-embedded), so each state gets its own bar: opened when the job enters the
state, with its total and unit, and closed when the job leaves it. A terminal state
gets no bar; the command's summary reports it.
"""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Any

from embedtune_client.cli.progress import progress_bar
from embedtune_client.results import Job


class StateBars:
    """Call with each update of a job; use as a context manager so the last bar is closed.

    `open_bar(total, desc, unit)` makes a bar (tests pass a recorder).
    """

    def __init__(self, open_bar: Callable[[int, str, str], Any] = progress_bar) -> None:
        self._open_bar = open_bar
        self._bar: Any = None
        self._state = ""
        self._total = 0
        self._shown = 0

    def __call__(self, job: Job) -> None:
        progress = job.progress
        if job.state != self._state:
            self.close()
            self._state = job.state
            if job.done:
                return
            self._bar = self._open_bar(progress.total, job.state, progress.unit or "it")
            self._total, self._shown = progress.total, 0
        if self._bar is None:
            return
        if progress.total != self._total:  # known only once the state has started, or revised
            self._bar.total = self._total = progress.total
        if progress.done != self._shown:
            self._bar.update(progress.done - self._shown)
            self._shown = progress.done

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> StateBars:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
