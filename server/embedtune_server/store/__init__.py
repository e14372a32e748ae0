"""SQLite stores in one WAL-mode database file: documents, feedback, model versions, jobs."""

from __future__ import annotations

from embedtune_server.settings import ServerSettings
from embedtune_server.store import documents, feedback, jobs, models
from embedtune_server.store.database import Database
from embedtune_server.store.migrations import migrate

DATABASE_FILE = "embedtune.sqlite3"


def open_database(settings: ServerSettings) -> Database:
    """The home's database, created or migrated to the current schema."""
    return Database(
        settings.home / DATABASE_FILE,
        settings.sqlite_synchronous,
        [documents.SCHEMA, feedback.SCHEMA, models.SCHEMA, jobs.SCHEMA],
        migrate=migrate,
    )
