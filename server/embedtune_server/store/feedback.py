"""Stored feedback: the examples the trainer learns from.

A text given by document id is resolved to the document's text when the feedback
arrives (the document may change later; the example must not) and keeps the id too,
so the trainer can still tell which stored document was meant.

An item is unused until a version trained on it is activated (`consumed_by` names that
version): a job that is rejected, fails or is cancelled leaves its items for the next.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    item TEXT NOT NULL,
    model_version TEXT NOT NULL,
    created_at REAL NOT NULL,
    consumed_by TEXT
);
CREATE INDEX IF NOT EXISTS feedback_unused ON feedback (consumed_by, id);
"""


@dataclass(frozen=True)
class TextRef:
    """Exactly one of `text` and `document_id`."""

    text: str | None = None
    document_id: str | None = None


@dataclass(frozen=True)
class FeedbackRecord:
    """One item: its kind (triplet, pair, labeled_pair, labeled_text), texts by role, label."""

    kind: str
    texts: Mapping[str, TextRef]
    label: float | int | None = None


class FeedbackStore:
    def add(
        self,
        connection: sqlite3.Connection,
        items: Sequence[FeedbackRecord],
        resolved: Mapping[str, str],
        model_version: str,
    ) -> list[int]:
        """Store `items` in the caller's write transaction; `resolved` maps document ids to texts."""
        now = time.time()
        ids = []
        for item in items:
            texts = {}
            for role, ref in item.texts.items():
                if ref.document_id is not None:
                    texts[role] = {"document_id": ref.document_id, "text": resolved[ref.document_id]}
                else:
                    texts[role] = {"text": ref.text}
            payload = {"texts": texts, "label": item.label}
            cursor = connection.execute(
                "INSERT INTO feedback (kind, item, model_version, created_at) VALUES (?, ?, ?, ?)",
                (item.kind, json.dumps(payload, ensure_ascii=False), model_version, now),
            )
            ids.append(int(cursor.lastrowid))
        return ids

    @staticmethod
    def count(connection: sqlite3.Connection) -> int:
        return int(connection.execute("SELECT COUNT(*) FROM feedback").fetchone()[0])

    @staticmethod
    def unused_count(connection: sqlite3.Connection, after_id: int = 0) -> int:
        """Items no activated version was trained on (with an id above `after_id`)."""
        return int(
            connection.execute(
                "SELECT COUNT(*) FROM feedback WHERE consumed_by IS NULL AND id > ?", (after_id,)
            ).fetchone()[0]
        )

    @staticmethod
    def write_snapshot(connection: sqlite3.Connection, path: Path) -> Snapshot:
        """Write the unused items as the trainer's JSON lines ({id, kind, texts, label}), fsynced."""
        snapshot = Snapshot(path)
        with open(path, "w", encoding="utf-8") as out:
            for item_id, kind, item in connection.execute(
                "SELECT id, kind, item FROM feedback WHERE consumed_by IS NULL ORDER BY id"
            ):
                payload = json.loads(item)
                texts = {role: ref["text"] for role, ref in payload["texts"].items()}
                record = {"id": item_id, "kind": kind, "texts": texts, "label": payload["label"]}
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
                snapshot.first_id = snapshot.first_id or item_id
                snapshot.last_id = item_id
                snapshot.counts[kind] += 1
            out.flush()
            os.fsync(out.fileno())
        return snapshot

    @staticmethod
    def mark_consumed(connection: sqlite3.Connection, first_id: int, last_id: int, version: str) -> None:
        """The unused items in [first_id, last_id] trained `version`, which is now activated."""
        connection.execute(
            "UPDATE feedback SET consumed_by = ? WHERE consumed_by IS NULL AND id BETWEEN ? AND ?",
            (version, first_id, last_id),
        )


@dataclass
class Snapshot:
    """A file of unused feedback for one job: its id range and the count of each kind."""

    path: Path
    first_id: int = 0
    last_id: int = 0
    counts: Counter = field(default_factory=Counter)

    @property
    def size(self) -> int:
        return sum(self.counts.values())
