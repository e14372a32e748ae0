"""The document store and the vector indexes, kept in step.

Writes are ordered by one asyncio lock (`write_lock`), which a model swap also takes
for its final catch-up, so no write lands between the new index's last catch-up and
the swap. Each write commits to SQLite first (durable when the RPC returns) and then
applies the same change to the live index, under a thread lock that the background
save also takes, so a saved index always matches the `write_seq` it records.

An index that is not live (one built for a new model version, or one saved before a
crash) is brought up to date from the change log: the documents removed since its
sequence are removed, those added are added, embedded by its own model first if the
store has no vector of theirs in its space.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from embedtune_server.index.base import SearchHits
from embedtune_server.index.faiss_index import FaissIndex
from embedtune_server.settings import ServerSettings
from embedtune_server.spaces import folder_name
from embedtune_server.state import ServingState
from embedtune_server.store.database import Database, get_meta
from embedtune_server.store.documents import Document, DocumentStore
from embedtune_server.store.feedback import FeedbackRecord, FeedbackStore
from embedtune_server.vectors import normalize_rows

log = logging.getLogger(__name__)

# Documents embedded per call when the server itself fills a space (start-up, catch-up).
_EMBED_PAGE = 256

EmbedFn = Callable[[list[str]], Awaitable[np.ndarray]]


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
        # The write sequence each open index reflects, by embedding space.
        self._index_seq: dict[str, int] = {}
        # While a new version's index is being built, changes after this sequence must stay logged.
        self.keep_changes_after: int | None = None
        self.write_lock = asyncio.Lock()

    def index_folder(self, space: str) -> Path:
        return self._settings.home / "index" / folder_name(space)

    def building_folder(self, space: str) -> Path:
        """Where a new index of `space` is written before it is renamed to `index_folder`."""
        folder = self.index_folder(space)
        return folder.with_name(f".{folder.name}.building")

    # ------------------------------------------------------------------ writes

    def upsert(self, state: ServingState, documents: Sequence[Document], vectors: np.ndarray) -> int:
        """Store `documents` with their vectors in the state's space and update its index.

        Call under `write_lock`, with a state that is still live.
        """
        vectors = normalize_rows(vectors)
        with self._lock:
            with self.database.write() as connection:
                replaced = self.documents.upsert(connection, documents, vectors, state.space)
            old = np.array([r.old_vec_id for r in replaced if r.old_vec_id is not None], dtype=np.int64)
            if len(old):
                state.index.remove(old)
            state.index.add(np.array([r.vec_id for r in replaced], dtype=np.int64), vectors)
            self._index_seq[state.space] = self.database.write_seq()
        return len(replaced)

    def delete(self, state: ServingState, ids: Sequence[str], ignore_missing: bool) -> int:
        """Call under `write_lock`, with the live state."""
        with self._lock:
            with self.database.write() as connection:
                vec_ids = self.documents.delete(connection, ids, ignore_missing)
            if vec_ids:
                state.index.remove(np.array(vec_ids, dtype=np.int64))
                self._index_seq[state.space] = self.database.write_seq()
        return len(vec_ids)

    def add_feedback(self, items: Sequence[FeedbackRecord], model_version: str) -> list[int]:
        """Store feedback; texts given by document id are resolved (NOT_FOUND if unknown)."""
        doc_ids = list(dict.fromkeys(r.document_id for i in items for r in i.texts.values() if r.document_id))
        with self.database.write() as connection:
            resolved = {d.id: d.text for d in self.documents.get(doc_ids, "document_id")} if doc_ids else {}
            return self.feedback.add(connection, items, resolved, model_version)

    # ------------------------------------------------------------------ search

    def nearest(
        self, state: ServingState, queries: np.ndarray, k: int, metadata_filter: Mapping[str, str]
    ) -> list[SearchHits]:
        """The k best vec_ids and scores per query among the documents matching the filter."""
        allowed = self.documents.matching(metadata_filter) if metadata_filter else None
        return state.index.search(normalize_rows(queries), k, allowed)

    def hits(self, found: Sequence[SearchHits], text: bool, metadata: bool) -> list[list[Hit]]:
        """The documents of `nearest`'s results, reading the text and metadata only if asked;
        a document deleted since the search is left out."""
        vec_ids = sorted({int(i) for hits in found for i in hits.ids})
        documents = self.documents.by_vec_ids(vec_ids, text, metadata)
        return [
            [
                Hit(documents[int(i)], float(s))
                for i, s in zip(hits.ids, hits.scores, strict=True)
                if int(i) in documents
            ]
            for hits in found
        ]

    # ----------------------------------------------------------------- indexes

    def save_index(self, state: ServingState) -> bool:
        """Save the live index if documents changed since its last save; True if it wrote.

        The change log is pruned through the saved sequence: a restart needs only the
        changes after it, unless a new version's index is being built from an older one.
        """
        with self._lock:
            seq = self.database.write_seq()
            if self._saved.get(state.space) == seq:
                return False
            state.index.save(self.index_folder(state.space), seq)
            self._saved[state.space] = seq
        floor = seq if self.keep_changes_after is None else min(seq, self.keep_changes_after)
        with self.database.write() as connection:
            self.documents.prune_changes(connection, floor)
        return True

    async def open_index(self, space: str, dimension: int, embed: EmbedFn) -> FaissIndex:
        """The saved index of `space` brought up to date, else one rebuilt from the store.

        A rebuilt index is saved if it can be; if not (a full disk), it serves from memory and
        the periodic save writes it once it can, since nothing records it as saved.
        """
        settings = self._settings
        folder = self.index_folder(space)
        try:
            index, saved_seq = await asyncio.to_thread(
                FaissIndex.load, folder, dimension, settings.index_factory, settings.index_search_params
            )
            self._index_seq[space] = saved_seq
            if await self.catch_up(space, index, embed):
                if saved_seq == self._index_seq[space]:
                    self._saved[space] = saved_seq
                    log.info("index at %s loaded: up to date at write %d", folder, saved_seq)
                else:
                    log.info(
                        "index at %s reflected write %d: caught up from the change log to write %d",
                        folder, saved_seq, self._index_seq[space],
                    )  # fmt: skip
                return index
            log.warning(
                "index at %s reflects write %d, older than the change log: rebuilding", folder, saved_seq
            )
        except FileNotFoundError:
            log.info("no saved index at %s: building it from the store", folder)
        except ValueError as exc:
            log.warning("saved index at %s unusable (%s): rebuilding", folder, exc)
        index = await self.rebuild(space, dimension, embed)
        try:
            await asyncio.to_thread(self.save_built, space, index, folder)
        except OSError as exc:
            log.warning(
                "cannot save the index rebuilt at %s (%s): serving it from memory until a save succeeds",
                folder, exc,
            )  # fmt: skip
        return index

    async def rebuild(
        self,
        space: str,
        dimension: int,
        embed: EmbedFn,
        progress: Callable[[int, int], None] | None = None,
    ) -> FaissIndex:
        """Fill `space` and build its index from the store; `index_seq(space)` says what it reflects.

        Documents written while it runs are embedded too: the index is built only from a
        snapshot in which every document has a vector in `space`.
        """
        while True:
            await self.fill_space(space, embed, progress)
            index = await asyncio.to_thread(self._build_if_complete, space, dimension)
            if index is not None:
                return index

    async def catch_up(self, space: str, index: FaissIndex, embed: EmbedFn) -> bool:
        """Apply the document changes since `index` was current; False if the log no longer has them."""
        changes = await asyncio.to_thread(self.documents.changes_since, self._index_seq[space])
        if changes is None:
            return False
        if changes.removed:
            index.remove(np.fromiter(changes.removed, dtype=np.int64, count=len(changes.removed)))
        added = sorted(changes.added)
        if added:
            vectors = await asyncio.to_thread(self.documents.vectors_of, space, added)
            missing = [vec_id for vec_id in added if vec_id not in vectors]
            if missing:
                vectors.update(await self._embed_into(space, missing, embed))
            present = [vec_id for vec_id in added if vec_id in vectors]
            if present:
                index.add(np.asarray(present, dtype=np.int64), np.stack([vectors[v] for v in present]))
        self._index_seq[space] = changes.seq
        return True

    async def fill_space(
        self, space: str, embed: EmbedFn, progress: Callable[[int, int], None] | None = None
    ) -> int:
        """Embed every stored document that has no vector in `space` yet; returns how many.

        `progress(done, total)` is called after each page.
        """
        total = await asyncio.to_thread(self.documents.count_without, space)
        done, after = 0, 0
        with tqdm(
            total=total, desc=f"embedding documents into {space}", unit="doc", disable=not total
        ) as bar:
            while page := await asyncio.to_thread(self.documents.texts_without, space, after, _EMBED_PAGE):
                vectors = normalize_rows(await embed([text for _, text in page]))
                vec_ids = [vec_id for vec_id, _ in page]
                await asyncio.to_thread(self._store_vectors, space, vec_ids, vectors)
                after = vec_ids[-1]
                done += len(page)
                bar.update(len(page))
                if progress is not None:
                    progress(done, max(total, done))
        return done

    async def _embed_into(self, space: str, vec_ids: list[int], embed: EmbedFn) -> dict[int, np.ndarray]:
        documents = await asyncio.to_thread(self.documents.by_vec_ids, vec_ids)
        present = [vec_id for vec_id in vec_ids if vec_id in documents]
        if not present:
            return {}
        vectors = normalize_rows(await embed([documents[v].text for v in present]))
        await asyncio.to_thread(self._store_vectors, space, present, vectors)
        return dict(zip(present, vectors, strict=True))

    def _store_vectors(self, space: str, vec_ids: list[int], vectors: np.ndarray) -> None:
        with self.database.write() as connection:
            self.documents.set_embeddings(connection, space, vec_ids, vectors)

    def _build_if_complete(self, space: str, dimension: int) -> FaissIndex | None:
        """An index of every stored `space` vector, or None if a document has none (yet)."""
        settings = self._settings
        index = FaissIndex(
            dimension, settings.index_factory, settings.index_train_size, settings.index_search_params
        )
        with self.database.snapshot() as connection:
            if self.documents.count_without(space, connection):
                return None
            seq = int(get_meta(connection, "write_seq") or 0)
            total = self.documents.count()
            with tqdm(total=total, desc=f"indexing {space}", unit="doc", disable=total == 0) as bar:
                for vec_ids, vectors in self.documents.embeddings(space, connection=connection):
                    index.add(vec_ids, vectors)
                    bar.update(len(vec_ids))
        self._index_seq[space] = seq
        return index

    def save_built(self, space: str, index: FaissIndex, folder: Path) -> None:
        """Save an index made by `rebuild` (or brought up to date) at the sequence it reflects."""
        seq = self._index_seq[space]
        index.save(folder, seq)
        if folder == self.index_folder(space):
            self._saved[space] = seq

    def index_seq(self, space: str) -> int:
        return self._index_seq[space]
