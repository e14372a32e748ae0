"""The model versions the server knows, and which one is active.

Both live in the store, not in process memory or loose files, so a restarted server
(or, later, a second replica) follows the same active version. A version is listed
only once its folder is complete; `active` changes in the same transaction that
marks a job activated.
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from embedtune_server.store.database import Database, get_meta, set_meta

SCHEMA = """
CREATE TABLE IF NOT EXISTS models (
    version TEXT PRIMARY KEY,
    folder TEXT NOT NULL,
    parent TEXT NOT NULL,
    base_model TEXT NOT NULL,
    status TEXT NOT NULL,
    job_id INTEGER NOT NULL,
    created_at REAL NOT NULL,
    details TEXT NOT NULL
);
"""

READY = "ready"
REJECTED = "rejected"
_ACTIVE = "active_version"
_LAST_NUMBER = "last_version_number"
_NUMBERED = re.compile(r"v(\d+)")


@dataclass(frozen=True)
class ModelRecord:
    """One registered version; `details` holds what the trainer recorded (losses, counts, metrics)."""

    version: str
    folder: Path
    base_model: str
    parent: str = ""
    status: str = READY
    job_id: int = 0
    created_at: float = field(default_factory=time.time)
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def ready(self) -> bool:
        return self.status == READY


class ModelRegistry:
    def __init__(self, database: Database) -> None:
        self._db = database

    def add(self, connection: sqlite3.Connection, record: ModelRecord) -> None:
        connection.execute(
            "INSERT INTO models (version, folder, parent, base_model, status, job_id, created_at, details)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                record.version,
                str(record.folder),
                record.parent,
                record.base_model,
                record.status,
                record.job_id,
                record.created_at,
                json.dumps(record.details, sort_keys=True),
            ),
        )

    def remove(self, connection: sqlite3.Connection, version: str) -> None:
        connection.execute("DELETE FROM models WHERE version = ?", (version,))

    def get(self, version: str) -> ModelRecord | None:
        row = (
            self._db.connection()
            .execute(f"SELECT {_COLUMNS} FROM models WHERE version = ?", (version,))
            .fetchone()
        )
        return _record(row) if row else None

    def all(self) -> list[ModelRecord]:
        """Oldest first."""
        rows = self._db.connection().execute(f"SELECT {_COLUMNS} FROM models ORDER BY created_at, rowid")
        return [_record(row) for row in rows]

    def active(self) -> str | None:
        return get_meta(self._db.connection(), _ACTIVE)

    @staticmethod
    def set_active(connection: sqlite3.Connection, version: str) -> None:
        set_meta(connection, _ACTIVE, version)

    @staticmethod
    def reserve_name(connection: sqlite3.Connection) -> str:
        """A version name never given before ("v2", "v3", ...), even to a job that then failed.

        Names are never reused because stored embeddings are keyed by version: a new
        model must not inherit a failed one's vectors.
        """
        taken = [
            int(m.group(1))
            for (name,) in connection.execute("SELECT version FROM models")
            if (m := _NUMBERED.fullmatch(name))
        ]
        number = max([int(get_meta(connection, _LAST_NUMBER) or 0), *taken]) + 1
        set_meta(connection, _LAST_NUMBER, str(number))
        return f"v{number}"


_COLUMNS = "version, folder, parent, base_model, status, job_id, created_at, details"


def _record(row: tuple) -> ModelRecord:
    version, folder, parent, base_model, status, job_id, created_at, details = row
    return ModelRecord(
        version=version,
        folder=Path(folder),
        base_model=base_model,
        parent=parent,
        status=status,
        job_id=job_id,
        created_at=created_at,
        details=json.loads(details),
    )
