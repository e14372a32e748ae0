"""What a job's work needs from the server, in one object instead of long parameter lists."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path

from embedtune_server.corpus import Corpus
from embedtune_server.jobs.catalog import CatalogSource
from embedtune_server.jobs.runner import JobRunner
from embedtune_server.serving import StateBuilder
from embedtune_server.settings import ServerSettings
from embedtune_server.state import StateHolder
from embedtune_server.store.database import Database
from embedtune_server.store.models import ModelRegistry


@dataclass
class JobContext:
    settings: ServerSettings
    database: Database
    registry: ModelRegistry
    corpus: Corpus
    holder: StateHolder
    builder: StateBuilder
    runner: JobRunner
    catalog: CatalogSource
    # Retired states still draining; held so their release tasks are not garbage-collected.
    releasing: set[asyncio.Task] = field(default_factory=set)

    def job_folder(self, job_id: int) -> Path:
        """Where a job keeps its snapshot and its children's logs."""
        return self.settings.home / "jobs" / str(job_id)

    def reserve_version(self) -> str:
        """A new version name for a job, recorded so it is never given again."""
        with self.database.write() as connection:
            return self.registry.reserve_name(connection)
