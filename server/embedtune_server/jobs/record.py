"""A job as the server tracks it: its kind, state, progress and what it found.

State and kind names are the proto enums' names without their prefix, lowercased
("training", "add_model"); `services/jobs_convert.py` maps them back by name, so the
two cannot drift.
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass, field
from typing import Any

TRAIN = "train"
ACTIVATE = "activate"
ADD_MODEL = "add_model"

QUEUED = "queued"
TRAINING = "training"
EVALUATING = "evaluating"
EXPORTING = "exporting"
REINDEXING = "reindexing"
ACTIVATED = "activated"
REJECTED = "rejected"
FAILED = "failed"
CANCELLED = "cancelled"
TERMINAL = frozenset({ACTIVATED, REJECTED, FAILED, CANCELLED})


@dataclass
class Progress:
    """Work done in the current state; `eta_s` 0 means unknown."""

    done: int = 0
    total: int = 0
    unit: str = ""
    eta_s: float = 0.0


@dataclass
class Job:
    id: int
    kind: str
    state: str = QUEUED
    progress: Progress = field(default_factory=Progress)
    options: dict[str, Any] = field(default_factory=dict)
    base_version: str = ""
    version: str = ""
    feedback_first_id: int = 0
    feedback_last_id: int = 0
    feedback_counts: dict[str, int] = field(default_factory=dict)
    metrics_active: dict[str, float] = field(default_factory=dict)
    metrics_new: dict[str, float] = field(default_factory=dict)
    gate: dict[str, Any] | None = None
    reason: str = ""
    state_seconds: dict[str, float] = field(default_factory=dict)
    created_at: float = field(default_factory=time.time)
    finished_at: float = 0.0
    state_started_at: float = field(default_factory=time.time)

    @property
    def finished(self) -> bool:
        return self.state in TERMINAL

    def enter(self, state: str) -> None:
        """Move to `state`, booking the time spent in the one it leaves."""
        now = time.time()
        self.state_seconds[self.state] = self.state_seconds.get(self.state, 0.0) + (
            now - self.state_started_at
        )
        self.state = state
        self.state_started_at = now
        self.progress = Progress()
        if state in TERMINAL:
            self.finished_at = now

    def advance(self, done: int, total: int, unit: str) -> None:
        """Progress in the current state, with a linear estimate of the time left."""
        elapsed = time.time() - self.state_started_at
        eta = elapsed * (total - done) / done if 0 < done <= total else 0.0
        self.progress = Progress(done, total, unit, eta)

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Job:
        data = json.loads(text)
        data["progress"] = Progress(**data.get("progress", {}))
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})
