"""Bring a database written by an older embedtune to the current schema, in place.

Runs inside the transaction that creates the schema, before it, so a home from an
earlier release starts instead of failing on a missing column.
"""

from __future__ import annotations

import sqlite3


def _columns(connection: sqlite3.Connection, table: str) -> set[str]:
    return {row[1] for row in connection.execute(f"PRAGMA table_info({table})")}


def migrate(connection: sqlite3.Connection) -> None:
    documents = _columns(connection, "documents")
    # Embeddings moved to their own table, keyed by embedding space. The old rows did not
    # record which graph (fp32 or int8) made them, so they are dropped and re-embedded.
    for column in ("embedding", "model_version"):
        if column in documents:
            connection.execute(f"ALTER TABLE documents DROP COLUMN {column}")
    feedback = _columns(connection, "feedback")
    if feedback and "consumed_by" not in feedback:
        connection.execute("ALTER TABLE feedback ADD COLUMN consumed_by TEXT")
