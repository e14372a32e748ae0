"""Stored documents: text, metadata and the embedding the live index was built from.

Each stored version of a document gets a fresh int64 `vec_id` (SQLite AUTOINCREMENT,
never reused), the id its vector carries in the FAISS index; the caller's string id
maps to it here. Keeping the embedding (with the model version that made it) lets a
restart rebuild a missing or stale index without re-embedding; only rows embedded by
another version need the encoder again.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from embedtune_server.store.database import Database

SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    vec_id INTEGER PRIMARY KEY AUTOINCREMENT,
    doc_id TEXT NOT NULL UNIQUE,
    text TEXT NOT NULL,
    metadata TEXT NOT NULL,
    model_version TEXT NOT NULL,
    embedding BLOB NOT NULL,
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS document_metadata (
    vec_id INTEGER NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS document_metadata_pair ON document_metadata (key, value, vec_id);
CREATE INDEX IF NOT EXISTS document_metadata_vec ON document_metadata (vec_id);
"""

# SQLite's default limit on host parameters is 32766; stay well below it.
_CHUNK = 900


class MissingDocumentsError(LookupError):
    """Some requested ids are not stored (NOT_FOUND)."""

    def __init__(self, field_name: str, ids: Sequence[str]) -> None:
        shown = ", ".join(repr(i) for i in ids[:10]) + (f" and {len(ids) - 10} more" if len(ids) > 10 else "")
        super().__init__(f"{field_name}: {len(ids)} unknown document id(s): {shown}")
        self.ids = list(ids)


@dataclass(frozen=True)
class Document:
    id: str
    text: str
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Replacement:
    """What one upsert did to the index: drop `old_vec_id` (if any), add `vec_id`."""

    old_vec_id: int | None
    vec_id: int


def _chunks(items: Sequence, size: int = _CHUNK) -> Iterator[Sequence]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class DocumentStore:
    def __init__(self, database: Database) -> None:
        self._db = database

    def upsert(
        self,
        connection: sqlite3.Connection,
        documents: Sequence[Document],
        vectors: np.ndarray,
        model_version: str,
    ) -> list[Replacement]:
        """Insert or replace `documents` inside the caller's write transaction."""
        now = time.time()
        old = self._vec_ids(connection, [d.id for d in documents])
        replacements = []
        for document, vector in zip(documents, vectors, strict=True):
            old_vec_id = old.get(document.id)
            if old_vec_id is not None:
                connection.execute("DELETE FROM documents WHERE vec_id = ?", (old_vec_id,))
                connection.execute("DELETE FROM document_metadata WHERE vec_id = ?", (old_vec_id,))
            cursor = connection.execute(
                "INSERT INTO documents (doc_id, text, metadata, model_version, embedding, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (
                    document.id,
                    document.text,
                    json.dumps(dict(document.metadata), ensure_ascii=False, sort_keys=True),
                    model_version,
                    np.ascontiguousarray(vector, dtype=np.float32).tobytes(),
                    now,
                ),
            )
            vec_id = int(cursor.lastrowid)
            connection.executemany(
                "INSERT INTO document_metadata (vec_id, key, value) VALUES (?, ?, ?)",
                [(vec_id, key, value) for key, value in document.metadata.items()],
            )
            replacements.append(Replacement(old_vec_id, vec_id))
        return replacements

    def delete(self, connection: sqlite3.Connection, ids: Sequence[str], ignore_missing: bool) -> list[int]:
        """Delete by id inside the caller's write transaction; returns the removed vec_ids."""
        found = self._vec_ids(connection, ids)
        missing = [i for i in ids if i not in found]
        if missing and not ignore_missing:
            raise MissingDocumentsError("ids", missing)
        vec_ids = list(found.values())
        for chunk in _chunks(vec_ids):
            marks = ",".join("?" * len(chunk))
            connection.execute(f"DELETE FROM documents WHERE vec_id IN ({marks})", chunk)
            connection.execute(f"DELETE FROM document_metadata WHERE vec_id IN ({marks})", chunk)
        return vec_ids

    def get(self, ids: Sequence[str], field_name: str = "ids") -> list[Document]:
        """Documents in request order; raises MissingDocumentsError naming the unknown ids."""
        connection = self._db.connection()
        rows: dict[str, Document] = {}
        for chunk in _chunks(list(dict.fromkeys(ids))):
            marks = ",".join("?" * len(chunk))
            for doc_id, text, metadata in connection.execute(
                f"SELECT doc_id, text, metadata FROM documents WHERE doc_id IN ({marks})", chunk
            ):
                rows[doc_id] = Document(doc_id, text, json.loads(metadata))
        missing = [i for i in ids if i not in rows]
        if missing:
            raise MissingDocumentsError(field_name, missing)
        return [rows[i] for i in ids]

    def by_vec_ids(self, vec_ids: Sequence[int]) -> dict[int, Document]:
        connection = self._db.connection()
        found = {}
        for chunk in _chunks(list(vec_ids)):
            marks = ",".join("?" * len(chunk))
            for vec_id, doc_id, text, metadata in connection.execute(
                f"SELECT vec_id, doc_id, text, metadata FROM documents WHERE vec_id IN ({marks})", chunk
            ):
                found[vec_id] = Document(doc_id, text, json.loads(metadata))
        return found

    def matching(self, metadata_filter: Mapping[str, str]) -> np.ndarray:
        """vec_ids of the documents whose metadata has every given pair."""
        clauses = " INTERSECT ".join(
            ["SELECT vec_id FROM document_metadata WHERE key = ? AND value = ?"] * len(metadata_filter)
        )
        params = [part for pair in metadata_filter.items() for part in pair]
        rows = self._db.connection().execute(clauses, params).fetchall()
        return np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))

    def count(self) -> int:
        return int(self._db.connection().execute("SELECT COUNT(*) FROM documents").fetchone()[0])

    def embeddings(
        self, model_version: str, batch_size: int = 4096
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(vec_ids, vectors) of the rows embedded by `model_version`, in batches."""
        cursor = self._db.connection().execute(
            "SELECT vec_id, embedding FROM documents WHERE model_version = ? ORDER BY vec_id",
            (model_version,),
        )
        while rows := cursor.fetchmany(batch_size):
            ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
            yield ids, np.stack([np.frombuffer(r[1], dtype=np.float32) for r in rows])

    def texts_embedded_by_others(self, model_version: str) -> list[tuple[int, str]]:
        """(vec_id, text) of the rows another model version embedded: they need re-embedding."""
        return (
            self._db.connection()
            .execute(
                "SELECT vec_id, text FROM documents WHERE model_version != ? ORDER BY vec_id",
                (model_version,),
            )
            .fetchall()
        )

    def set_embeddings(
        self, connection: sqlite3.Connection, vec_ids: Sequence[int], vectors: np.ndarray, model_version: str
    ) -> None:
        connection.executemany(
            "UPDATE documents SET embedding = ?, model_version = ? WHERE vec_id = ?",
            [
                (np.ascontiguousarray(v, dtype=np.float32).tobytes(), model_version, int(i))
                for i, v in zip(vec_ids, vectors, strict=True)
            ],
        )

    @staticmethod
    def _vec_ids(connection: sqlite3.Connection, ids: Sequence[str]) -> dict[str, int]:
        found = {}
        for chunk in _chunks(list(ids)):
            marks = ",".join("?" * len(chunk))
            found.update(
                connection.execute(f"SELECT doc_id, vec_id FROM documents WHERE doc_id IN ({marks})", chunk)
            )
        return found
