"""Stored documents, their embeddings per embedding space, and the change log.

Each stored version of a document gets a fresh int64 `vec_id` (SQLite AUTOINCREMENT,
never reused), the id its vector carries in every FAISS index; the caller's string id
maps to it here. Embeddings are kept per (document, embedding space), so building a new
model version's index adds rows beside the live ones instead of overwriting them, a
restart rebuilds a missing or stale index without re-embedding, and a rollback to a
version whose vectors are kept re-embeds only what changed since.

Every transaction that changes documents takes the next `write_seq` and logs each
`vec_id` it added or removed under that sequence: an index saved at sequence S is
brought up to date by the changes after S (`changes_since`).
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from embedtune_server.store.database import Database, get_meta

SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    vec_id INTEGER PRIMARY KEY AUTOINCREMENT,
    doc_id TEXT NOT NULL UNIQUE,
    text TEXT NOT NULL,
    metadata TEXT NOT NULL,
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS document_metadata (
    vec_id INTEGER NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS document_metadata_pair ON document_metadata (key, value, vec_id);
CREATE INDEX IF NOT EXISTS document_metadata_vec ON document_metadata (vec_id);
CREATE TABLE IF NOT EXISTS embeddings (
    space TEXT NOT NULL,
    vec_id INTEGER NOT NULL,
    vector BLOB NOT NULL,
    PRIMARY KEY (space, vec_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS embeddings_vec ON embeddings (vec_id);
CREATE TABLE IF NOT EXISTS document_changes (
    seq INTEGER NOT NULL,
    vec_id INTEGER NOT NULL,
    added INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS document_changes_seq ON document_changes (seq);
"""

# SQLite's default limit on host parameters is 32766; stay well below it.
_CHUNK = 900
# The log holds no change at or below this sequence any more.
_PRUNED_META = "changes_pruned_through"


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
class StoredSize:
    """UTF-8 bytes of a stored document's fields, measured by SQLite without reading them out."""

    id_bytes: int
    text_bytes: int
    metadata_bytes: int
    metadata_entries: int


@dataclass(frozen=True)
class Replacement:
    """What one upsert did to the index: drop `old_vec_id` (if any), add `vec_id`."""

    old_vec_id: int | None
    vec_id: int


@dataclass(frozen=True)
class Changes:
    """The net effect of the document changes after some sequence, up to `seq`.

    `added` are vec_ids still stored (a document added and removed again is in
    neither set); `removed` existed before the first change and are gone now.
    """

    seq: int
    added: frozenset[int]
    removed: frozenset[int]


def _chunks(items: Sequence, size: int = _CHUNK) -> Iterator[Sequence]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _blob(vector: np.ndarray) -> bytes:
    return np.ascontiguousarray(vector, dtype=np.float32).tobytes()


class DocumentStore:
    def __init__(self, database: Database) -> None:
        self._db = database

    # ------------------------------------------------------------------ writes

    def upsert(
        self,
        connection: sqlite3.Connection,
        documents: Sequence[Document],
        vectors: np.ndarray,
        space: str,
    ) -> list[Replacement]:
        """Insert or replace `documents` with their `space` embeddings, inside the caller's transaction."""
        now = time.time()
        seq = self._db.bump_write_seq(connection)
        old = self._vec_ids(connection, [d.id for d in documents])
        replacements = []
        for document, vector in zip(documents, vectors, strict=True):
            old_vec_id = old.get(document.id)
            if old_vec_id is not None:
                self._remove(connection, [old_vec_id], seq)
            cursor = connection.execute(
                "INSERT INTO documents (doc_id, text, metadata, updated_at) VALUES (?, ?, ?, ?)",
                (
                    document.id,
                    document.text,
                    json.dumps(dict(document.metadata), ensure_ascii=False, sort_keys=True),
                    now,
                ),
            )
            vec_id = int(cursor.lastrowid)
            connection.executemany(
                "INSERT INTO document_metadata (vec_id, key, value) VALUES (?, ?, ?)",
                [(vec_id, key, value) for key, value in document.metadata.items()],
            )
            connection.execute(
                "INSERT INTO embeddings (space, vec_id, vector) VALUES (?, ?, ?)",
                (space, vec_id, _blob(vector)),
            )
            connection.execute(
                "INSERT INTO document_changes (seq, vec_id, added) VALUES (?, ?, 1)", (seq, vec_id)
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
        if vec_ids:
            self._remove(connection, vec_ids, self._db.bump_write_seq(connection))
        return vec_ids

    @staticmethod
    def _remove(connection: sqlite3.Connection, vec_ids: Sequence[int], seq: int) -> None:
        for chunk in _chunks(vec_ids):
            marks = ",".join("?" * len(chunk))
            for table in ("documents", "document_metadata", "embeddings"):
                connection.execute(f"DELETE FROM {table} WHERE vec_id IN ({marks})", chunk)
        connection.executemany(
            "INSERT INTO document_changes (seq, vec_id, added) VALUES (?, ?, 0)", [(seq, v) for v in vec_ids]
        )

    def set_embeddings(
        self, connection: sqlite3.Connection, space: str, vec_ids: Sequence[int], vectors: np.ndarray
    ) -> int:
        """Store `space` embeddings of documents that are still stored; returns how many were."""
        before = connection.total_changes
        connection.executemany(
            "INSERT OR REPLACE INTO embeddings (space, vec_id, vector)"
            " SELECT ?, ?, ? WHERE EXISTS (SELECT 1 FROM documents WHERE vec_id = ?)",
            [(space, int(i), _blob(v), int(i)) for i, v in zip(vec_ids, vectors, strict=True)],
        )
        return connection.total_changes - before

    def drop_space(self, connection: sqlite3.Connection, space: str) -> None:
        connection.execute("DELETE FROM embeddings WHERE space = ?", (space,))

    @staticmethod
    def prune_changes(connection: sqlite3.Connection, through_seq: int) -> None:
        """Forget the changes at or below `through_seq` (no index needs them any more)."""
        connection.execute("DELETE FROM document_changes WHERE seq <= ?", (through_seq,))
        connection.execute(
            "INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE"
            " SET value = MAX(CAST(value AS INTEGER), CAST(excluded.value AS INTEGER))",
            (_PRUNED_META, str(through_seq)),
        )

    # ------------------------------------------------------------------- reads

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

    def by_vec_ids(
        self, vec_ids: Sequence[int], text: bool = True, metadata: bool = True
    ) -> dict[int, Document]:
        """Documents by vec_id; the text and metadata columns are read only when asked for
        (else the documents carry an empty text or metadata)."""
        text_column = "text" if text else "''"
        metadata_column = "metadata" if metadata else "NULL"
        connection = self._db.connection()
        found = {}
        for chunk in _chunks(list(vec_ids)):
            marks = ",".join("?" * len(chunk))
            for vec_id, doc_id, body, pairs in connection.execute(
                f"SELECT vec_id, doc_id, {text_column}, {metadata_column} FROM documents"
                f" WHERE vec_id IN ({marks})",
                chunk,
            ):
                found[vec_id] = Document(doc_id, body, json.loads(pairs) if pairs is not None else {})
        return found

    def sizes(self, vec_ids: Sequence[int]) -> dict[int, StoredSize]:
        """How big each stored document's fields are, without reading them into Python."""
        connection = self._db.connection()
        found = {}
        for chunk in _chunks(list(vec_ids)):
            marks = ",".join("?" * len(chunk))
            for vec_id, *size in connection.execute(
                "SELECT d.vec_id, length(CAST(d.doc_id AS BLOB)), length(CAST(d.text AS BLOB)),"
                " COALESCE(SUM(length(CAST(m.key AS BLOB)) + length(CAST(m.value AS BLOB))), 0),"
                " COUNT(m.vec_id)"
                " FROM documents d LEFT JOIN document_metadata m ON m.vec_id = d.vec_id"
                f" WHERE d.vec_id IN ({marks}) GROUP BY d.vec_id",
                chunk,
            ):
                found[vec_id] = StoredSize(*size)
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
        self, space: str, batch_size: int = 4096, connection: sqlite3.Connection | None = None
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(vec_ids, vectors) of the stored `space` embeddings, in batches."""
        cursor = (connection or self._db.connection()).execute(
            "SELECT vec_id, vector FROM embeddings WHERE space = ? ORDER BY vec_id", (space,)
        )
        while rows := cursor.fetchmany(batch_size):
            ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
            yield ids, np.stack([np.frombuffer(r[1], dtype=np.float32) for r in rows])

    def vectors_of(self, space: str, vec_ids: Sequence[int]) -> dict[int, np.ndarray]:
        """The stored `space` embeddings of `vec_ids` (those that have one)."""
        connection = self._db.connection()
        found = {}
        for chunk in _chunks(list(vec_ids)):
            marks = ",".join("?" * len(chunk))
            for vec_id, vector in connection.execute(
                f"SELECT vec_id, vector FROM embeddings WHERE space = ? AND vec_id IN ({marks})",
                [space, *chunk],
            ):
                found[vec_id] = np.frombuffer(vector, dtype=np.float32)
        return found

    def texts_without(
        self,
        space: str,
        after_vec_id: int = 0,
        limit: int = 512,
        connection: sqlite3.Connection | None = None,
    ) -> list[tuple[int, str]]:
        """(vec_id, text) of documents with no `space` embedding, by vec_id, a page at a time."""
        return (
            (connection or self._db.connection())
            .execute(
                "SELECT d.vec_id, d.text FROM documents d WHERE d.vec_id > ? AND NOT EXISTS"
                " (SELECT 1 FROM embeddings e WHERE e.space = ? AND e.vec_id = d.vec_id)"
                " ORDER BY d.vec_id LIMIT ?",
                (after_vec_id, space, limit),
            )
            .fetchall()
        )

    def count_without(self, space: str, connection: sqlite3.Connection | None = None) -> int:
        return int(
            (connection or self._db.connection())
            .execute(
                "SELECT COUNT(*) FROM documents d WHERE NOT EXISTS"
                " (SELECT 1 FROM embeddings e WHERE e.space = ? AND e.vec_id = d.vec_id)",
                (space,),
            )
            .fetchone()[0]
        )

    def spaces(self) -> set[str]:
        return {r[0] for r in self._db.connection().execute("SELECT DISTINCT space FROM embeddings")}

    def changes_since(self, seq: int) -> Changes | None:
        """The net document changes after `seq`, or None when the log no longer reaches back that far."""
        with self._db.snapshot() as connection:
            if seq < int(get_meta(connection, _PRUNED_META) or 0):
                return None
            current = int(get_meta(connection, "write_seq") or 0)
            added: set[int] = set()
            removed: set[int] = set()
            for vec_id, was_added in connection.execute(
                "SELECT vec_id, added FROM document_changes WHERE seq > ? ORDER BY seq", (seq,)
            ):
                if was_added:
                    added.add(vec_id)
                elif vec_id in added:
                    added.discard(vec_id)
                else:
                    removed.add(vec_id)
        return Changes(current, frozenset(added), frozenset(removed))

    @staticmethod
    def _vec_ids(connection: sqlite3.Connection, ids: Sequence[str]) -> dict[str, int]:
        found = {}
        for chunk in _chunks(list(ids)):
            marks = ",".join("?" * len(chunk))
            found.update(
                connection.execute(f"SELECT doc_id, vec_id FROM documents WHERE doc_id IN ({marks})", chunk)
            )
        return found
