"""Job records: every training, activation and add-model job, kept in the store.

A job is stored as its state plus a JSON record of everything else; the store does
not interpret the record (`jobs/record.py` does), so adding a field needs no schema
change. Records outlive the process: a restarted server lists every job, and marks
those it finds unfinished as failed.
"""

from __future__ import annotations

import sqlite3
import time

from embedtune_server.store.database import Database

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    record TEXT NOT NULL,
    created_at REAL NOT NULL,
    finished INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS jobs_unfinished ON jobs (finished, id);
"""


class JobStore:
    def __init__(self, database: Database) -> None:
        self._db = database

    @staticmethod
    def insert(connection: sqlite3.Connection, kind: str, state: str, record: str) -> int:
        cursor = connection.execute(
            "INSERT INTO jobs (kind, state, record, created_at) VALUES (?, ?, ?, ?)",
            (kind, state, record, time.time()),
        )
        return int(cursor.lastrowid)

    @staticmethod
    def update(connection: sqlite3.Connection, job_id: int, state: str, record: str, finished: bool) -> None:
        connection.execute(
            "UPDATE jobs SET state = ?, record = ?, finished = ? WHERE id = ?",
            (state, record, int(finished), job_id),
        )

    def get(self, job_id: int) -> str | None:
        row = self._db.connection().execute("SELECT record FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return row[0] if row else None

    def newest(self, limit: int) -> list[str]:
        rows = self._db.connection().execute("SELECT record FROM jobs ORDER BY id DESC LIMIT ?", (limit,))
        return [row[0] for row in rows]

    def unfinished(self) -> list[str]:
        rows = self._db.connection().execute("SELECT record FROM jobs WHERE finished = 0 ORDER BY id")
        return [row[0] for row in rows]
