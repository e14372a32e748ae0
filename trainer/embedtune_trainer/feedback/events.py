"""The JSON lines the server reads on the job's stdout: states, progress, and the result.

    {"event": "state", "state": "training"}
    {"event": "progress", "done": 12, "total": 40, "unit": "steps"}
    {"event": "result", "accepted": true, ...}

Each line is flushed as it is written. Nothing else may reach that stream: the job runs
with `sys.stdout` pointed at stderr (logs, tqdm bars and warnings go there already), and
only `EventStream` holds the real stdout.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any, TextIO

import transformers

PROGRESS_INTERVAL_S = 0.25  # at most about four progress lines a second


class EventStream:
    def __init__(self, stream: TextIO, clock: Callable[[], float] = time.monotonic) -> None:
        self._stream = stream
        self._clock = clock
        self._last_progress: tuple[str, int, float] | None = None  # unit, total, when

    def state(self, state: str) -> None:
        self._emit({"event": "state", "state": state})

    def progress(self, done: int, total: int, unit: str) -> None:
        """Report progress; lines closer together than `PROGRESS_INTERVAL_S` are dropped,
        except the first of a unit and total and the one that completes it."""
        now = self._clock()
        last = self._last_progress
        fresh = last is None or last[:2] != (unit, total)
        if fresh or done >= total or now - last[2] >= PROGRESS_INTERVAL_S:  # type: ignore[index]
            self._last_progress = (unit, total, now)
            self._emit({"event": "progress", "done": done, "total": total, "unit": unit})

    def result(self, result: dict[str, Any]) -> None:
        self._emit({"event": "result", **result})

    def _emit(self, event: dict[str, Any]) -> None:
        self._stream.write(json.dumps(event) + "\n")
        self._stream.flush()


class TrainingProgress(transformers.TrainerCallback):
    """Reports each optimiser step of a Trainer run as progress in "steps"."""

    def __init__(self, events: EventStream) -> None:
        self.events = events

    def on_train_begin(
        self, args: Any, state: transformers.TrainerState, control: Any, **kwargs: Any
    ) -> None:
        self.events.progress(0, state.max_steps, "steps")

    def on_step_end(self, args: Any, state: transformers.TrainerState, control: Any, **kwargs: Any) -> None:
        self.events.progress(state.global_step, state.max_steps, "steps")


class StateTimer:
    """Announces each state of the job as it begins, and times how long each one lasted."""

    def __init__(self, events: EventStream, clock: Callable[[], float] = time.perf_counter) -> None:
        self.events = events
        self._clock = clock
        self._current: tuple[str, float] | None = None
        self.seconds: dict[str, float] = {}

    def enter(self, state: str) -> None:
        self.stop()
        self.events.state(state)
        self._current = (state, self._clock())

    def stop(self) -> dict[str, float]:
        """End the current state; returns seconds per state so far."""
        if self._current is not None:
            state, since = self._current
            self.seconds[state] = round(self._clock() - since, 3)
            self._current = None
        return self.seconds
