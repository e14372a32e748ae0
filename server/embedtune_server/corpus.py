"""The document store and the live vector index, kept in step.

Writes are serialised by one lock: commit to SQLite first (durable when the RPC
returns), then apply the same change to the index in memory. The index reaches disk
in the background (`index_save_interval_s`) and on shutdown; after a crash the saved
index's `write_seq` differs from the store's, so it is rebuilt from the stored
embeddings (re-embedding only rows made by another model version).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from embedtune_server.index.faiss_index import FaissIndex
from embedtune_server.settings import ServerSettings
from embedtune_server.state import ServingState
from embedtune_server.store.database import Database
from embedtune_server.store.documents import Document, DocumentStore
from embedtune_server.store.feedback import FeedbackRecord, FeedbackStore
from embedtune_server.vectors import normalize_rows

log = logging.getLogger(__name__)

_REEMBED_CHUNK = 256


@dataclass(frozen=True)
class Hit:
    document: Document
    score: float


class Corpus:
    def __init__(self, database: Database, settings: ServerSettings) -> None:
        self.database = database
        self.documents = DocumentStore(database)
        self.feedback = FeedbackStore()
        self._settings = settings
        self._lock = threading.Lock()
        self._saved: dict[str, int] = {}

    def upsert(self, state: ServingState, documents: Sequence[Document], vectors: np.ndarray) -> int:
        vectors = normalize_rows(vectors)
        with self._lock:
            with self.database.write() as connection:
                replaced = self.documents.upsert(connection, documents, vectors, state.model_version)
            old = np.array([r.old_vec_id for r in replaced if r.old_vec_id is not None], dtype=np.int64)
            if len(old):
                state.index.remove(old)
            state.index.add(np.array([r.vec_id for r in replaced], dtype=np.int64), vectors)
        return len(replaced)

    def delete(self, state: ServingState, ids: Sequence[str], ignore_missing: bool) -> int:
        with self._lock:
            with self.database.write() as connection:
                vec_ids = self.documents.delete(connection, ids, ignore_missing)
            if vec_ids:
                state.index.remove(np.array(vec_ids, dtype=np.int64))
        return len(vec_ids)

    def add_feedback(self, items: Sequence[FeedbackRecord], model_version: str) -> list[int]:
        """Store feedback; texts given by document id are resolved (NOT_FOUND if unknown)."""
        doc_ids = list(dict.fromkeys(r.document_id for i in items for r in i.texts.values() if r.document_id))
        with self.database.write(documents_changed=False) as connection:
            resolved = {d.id: d.text for d in self.documents.get(doc_ids, "document_id")} if doc_ids else {}
            return self.feedback.add(connection, items, resolved, model_version)

    def search(
        self, state: ServingState, queries: np.ndarray, k: int, metadata_filter: Mapping[str, str]
    ) -> list[list[Hit]]:
        allowed = self.documents.matching(metadata_filter) if metadata_filter else None
        results = state.index.search(normalize_rows(queries), k, allowed)
        documents = self.documents.by_vec_ids(sorted({int(i) for hits in results for i in hits.ids}))
        return [
            [
                Hit(documents[int(i)], float(s))
                for i, s in zip(hits.ids, hits.scores, strict=True)
                if int(i) in documents
            ]
            for hits in results
        ]

    def save_index(self, state: ServingState, folder: Path) -> bool:
        """Save the index if documents changed since the last save; True if it wrote."""
        with self._lock:
            seq = self.database.write_seq()
            if self._saved.get(state.model_version) == seq:
                return False
            state.index.save(folder, seq)
            self._saved[state.model_version] = seq
        return True

    def open_index(
        self, folder: Path, model_version: str, dimension: int, encode: Callable[[list[str]], np.ndarray]
    ) -> FaissIndex:
        """The saved index if it is current, else one rebuilt from the store (and saved)."""
        settings = self._settings
        seq = self.database.write_seq()
        try:
            index, saved_seq = FaissIndex.load(
                folder, dimension, settings.index_factory, settings.index_search_params
            )
            if saved_seq == seq:
                self._saved[model_version] = seq
                return index
            log.warning("index at %s reflects write %d, store is at %d: rebuilding", folder, saved_seq, seq)
        except FileNotFoundError:
            log.info("no saved index at %s: building it from the store", folder)
        except (ValueError, RuntimeError, KeyError) as exc:
            log.warning("saved index at %s unusable (%s): rebuilding", folder, exc)
        self._reembed(model_version, encode)
        index = FaissIndex(
            dimension, settings.index_factory, settings.index_train_size, settings.index_search_params
        )
        total = self.documents.count()
        with tqdm(total=total, desc="indexing stored documents", unit="doc", disable=total == 0) as bar:
            for vec_ids, vectors in self.documents.embeddings(model_version):
                index.add(vec_ids, vectors)
                bar.update(len(vec_ids))
        index.save(folder, seq)
        self._saved[model_version] = seq
        return index

    def _reembed(self, model_version: str, encode: Callable[[list[str]], np.ndarray]) -> None:
        rows = self.documents.texts_embedded_by_others(model_version)
        if not rows:
            return
        with tqdm(total=len(rows), desc=f"re-embedding documents with {model_version}", unit="doc") as bar:
            for start in range(0, len(rows), _REEMBED_CHUNK):
                chunk = rows[start : start + _REEMBED_CHUNK]
                vectors = normalize_rows(encode([text for _, text in chunk]))
                with self.database.write(documents_changed=False) as connection:
                    self.documents.set_embeddings(connection, [i for i, _ in chunk], vectors, model_version)
                bar.update(len(chunk))
