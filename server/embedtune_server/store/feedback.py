"""Stored feedback: the examples the trainer learns from.

A text given by document id is resolved to the document's text when the feedback
arrives (the document may change later; the example must not) and keeps the id too,
so the trainer can still tell which stored document was meant.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    item TEXT NOT NULL,
    model_version TEXT NOT NULL,
    created_at REAL NOT NULL
);
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
