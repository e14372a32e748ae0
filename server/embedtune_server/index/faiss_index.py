"""FAISS in-process: any factory string over inner product, behind `VectorIndex`.

- "Flat" (default) is `IndexIDMap2` over `IndexFlatIP`: exact cosine on normalised vectors.
- Other factory strings (`HNSW32`, `IVF1024,PQ32`, ...) work the same way. IVF indexes
  take our int64 ids natively; the rest are wrapped in `IndexIDMap2`.
- Types that need training (IVF, PQ) start exact: vectors go to a Flat staging index
  until `train_size` have arrived (default 39 x nlist, FAISS's own minimum, and at
  least 39 x 256 = 9,984 with PQ codes), then the real index trains on all of them,
  takes them over, and serves.
- Types that cannot remove vectors (HNSW) keep removed ids as tombstones, excluded at
  search time by an id selector. Once tombstones pass `COMPACT_FRACTION` of the stored
  vectors, and whenever a saved index with tombstones is loaded, a background thread
  compacts it: it copies the live vectors out under the lock, builds a new index from
  them without the lock (searches and writes go on against the current index), then,
  under the lock again, replays onto the new index the writes made meanwhile (adds are
  added, removals become its tombstones) and swaps it in.
- A search returns min(k, matching documents) hits whatever the index type. Approximate
  indexes can find fewer (HNSW's graph walk around tombstones or outside a filter, IVF's
  probed lists): such a query is searched again with every list probed and a search
  queue of at least k plus the tombstones, and if still short, its candidates are scored
  exactly.
- Filtered search passes the allowed ids as an `IDSelectorBatch`.
- A save is three files: the index, its tombstones, and a state file naming the write
  sequence and the SHA-256 of the other two. `load` trusts nothing that does not match.

All methods are thread-safe (one lock): searches and writes come from gRPC worker threads.
The lock is never held while a compaction builds.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import threading
from pathlib import Path

import faiss
import numpy as np

from embedtune_server import failpoints
from embedtune_server.durable import write_atomically
from embedtune_server.index.base import SearchHits

_STATE_FILE = "state.json"
_INDEX_FILE = "index.faiss"
_TOMBSTONES_FILE = "tombstones.npy"
_FILES = (_INDEX_FILE, _TOMBSTONES_FILE)
_STATE_FIELDS = {
    "write_seq": int,
    "factory": str,
    "dimension": int,
    "ntotal": int,
    "staging": bool,
    "train_size": int,
    "checksums": dict,
}
# PQ with 8-bit codes needs 256 centroids per sub-quantizer; FAISS wants 39 points per centroid.
_PQ_TRAIN_SIZE = 39 * 256

log = logging.getLogger(__name__)
# Past this fraction of tombstones among the stored vectors, an index that cannot remove is rebuilt.
COMPACT_FRACTION = 0.25


def _build(dimension: int, factory: str) -> faiss.Index:
    base = faiss.index_factory(dimension, factory, faiss.METRIC_INNER_PRODUCT)
    ivf = faiss.try_extract_index_ivf(base)
    if ivf is None:
        return faiss.IndexIDMap2(base)
    ivf.set_direct_map_type(faiss.DirectMap.Hashtable)  # reconstruct and remove by id
    return base


def _can_remove(index: faiss.Index) -> bool:
    try:
        index.remove_ids(np.zeros(0, dtype=np.int64))
    except RuntimeError:
        return False
    return True


def _default_train_size(index: faiss.Index, factory: str) -> int:
    ivf = faiss.try_extract_index_ivf(index)
    coarse = 39 * ivf.nlist if ivf is not None else 0
    return max(coarse, _PQ_TRAIN_SIZE) if "PQ" in factory.upper() or ivf is None else coarse


def _flat_contents(staging: faiss.IndexIDMap2) -> tuple[np.ndarray, np.ndarray]:
    flat = faiss.downcast_index(staging.index)
    vectors = faiss.rev_swig_ptr(flat.get_xb(), flat.ntotal * flat.d).reshape(flat.ntotal, flat.d).copy()
    return faiss.vector_to_array(staging.id_map).astype(np.int64), vectors


class FaissIndex:
    """A FAISS index keyed by int64 ids; see the module docstring for its behaviour.

    An id once removed is never added again (the store never reuses a vec_id): a tombstone
    stands for every vector under its id.
    """

    def __init__(
        self, dimension: int, factory: str = "Flat", train_size: int = 0, search_params: str = ""
    ) -> None:
        self.dimension = dimension
        self.factory = factory
        self._search_params = search_params
        self._lock = threading.RLock()
        self._index = self._configure(_build(dimension, factory))
        self._train_size = train_size or _default_train_size(self._index, factory)
        self._staging = None if self._index.is_trained else faiss.IndexIDMap2(faiss.IndexFlatIP(dimension))
        self._can_remove = _can_remove(self._index)
        self._tombstones: set[int] = set()
        # While a compaction builds: the thread, and the writes it must replay before its swap.
        self._compactor: threading.Thread | None = None
        self._added_meanwhile: list[tuple[np.ndarray, np.ndarray]] = []
        self._removed_meanwhile: set[int] = set()
        self._compactable = True

    def _configure(self, index: faiss.Index) -> faiss.Index:
        if self._search_params:
            faiss.ParameterSpace().set_index_parameters(index, self._search_params)
        return index

    @property
    def description(self) -> str:
        return (
            self.factory
            if self._staging is None
            else f"{self.factory} (untrained: exact until {self._train_size})"
        )

    @property
    def size(self) -> int:
        with self._lock:
            return self._live.ntotal - len(self._tombstones)

    @property
    def _live(self) -> faiss.Index:
        return self._staging if self._staging is not None else self._index

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[1] != self.dimension:
            raise ValueError(f"vectors have shape {vectors.shape}, index dimension is {self.dimension}")
        with self._lock:
            self._live.add_with_ids(vectors, ids)
            if self._compactor is not None:
                self._added_meanwhile.append((ids, vectors))
            if self._staging is not None and self._staging.ntotal >= self._train_size:
                self._train_from_staging()

    def _train_from_staging(self) -> None:
        ids, vectors = _flat_contents(self._staging)
        self._index.train(vectors)
        self._index.add_with_ids(vectors, ids)
        self._staging = None

    def remove(self, ids: np.ndarray) -> None:
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        with self._lock:
            if self._staging is not None or self._can_remove:
                self._live.remove_ids(ids)
                return
            removed = {int(i) for i in ids}
            self._tombstones.update(removed)
            if self._compactor is not None:
                self._removed_meanwhile.update(removed)
            elif len(self._tombstones) > COMPACT_FRACTION * self._index.ntotal:
                self._start_compaction()

    @property
    def compacting(self) -> bool:
        """A compaction is building a new index in the background."""
        with self._lock:
            return self._compactor is not None

    def wait_for_compaction(self) -> None:
        """Return once no compaction runs (one that finishes may start the next)."""
        while True:
            with self._lock:
                compactor = self._compactor
            if compactor is None:
                return
            compactor.join()

    def _start_compaction(self) -> None:
        """Call under the lock: copy the live vectors out and build from them on a thread.

        The copy is taken here, under the caller's lock hold, so that every write after it
        is one the thread replays.
        """
        if not self._compactable:
            return
        try:
            vectors = self._index.index.reconstruct_n(0, self._index.ntotal)
        except RuntimeError as exc:  # a code that cannot be decoded: its tombstones stay excluded at search
            log.warning("cannot compact %s (%s): removed vectors stay excluded at search", self.factory, exc)
            self._compactable = False
            return
        ids = faiss.vector_to_array(self._index.id_map).astype(np.int64)
        live = ~np.isin(ids, np.fromiter(self._tombstones, dtype=np.int64, count=len(self._tombstones)))
        self._compactor = threading.Thread(
            target=self._compact, args=(ids[live], vectors[live]), name="embedtune-compact", daemon=True
        )
        self._compactor.start()

    def _compact(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Build an index of the copied live vectors, replay the writes made meanwhile, swap it in."""
        try:
            failpoints.hold(failpoints.DURING_COMPACTION)
            rebuilt = self._configure(_build(self.dimension, self.factory))
            rebuilt.add_with_ids(vectors, ids)
            with self._lock:
                for added_ids, added_vectors in self._added_meanwhile:
                    rebuilt.add_with_ids(added_vectors, added_ids)
                dropped = self._index.ntotal - rebuilt.ntotal
                self._index = rebuilt
                self._tombstones = self._removed_meanwhile
            log.info("compacted %s: %d removed vectors dropped", self.factory, dropped)
        finally:
            with self._lock:
                self._compactor = None
                self._added_meanwhile, self._removed_meanwhile = [], set()
                if len(self._tombstones) > COMPACT_FRACTION * self._index.ntotal:
                    self._start_compaction()

    def search(self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None) -> list[SearchHits]:
        queries = np.ascontiguousarray(queries, dtype=np.float32).reshape(-1, self.dimension)
        with self._lock:
            index = self._live
            tombstones = np.fromiter(self._tombstones, dtype=np.int64, count=len(self._tombstones))
            if allowed is not None:
                allowed = np.setdiff1d(np.asarray(allowed, dtype=np.int64), tombstones)
                selector = faiss.IDSelectorBatch(allowed)
                wanted = min(k, len(allowed))
            else:
                selector = faiss.IDSelectorNot(faiss.IDSelectorBatch(tombstones)) if len(tombstones) else None
                wanted = min(k, index.ntotal - len(tombstones))
            if wanted <= 0:
                empty = SearchHits(np.zeros(0, np.int64), np.zeros(0, np.float32))
                return [empty for _ in queries]
            scores, ids = index.search(queries, wanted, params=self._params(index, selector))
            hits = [
                SearchHits(row_ids[row_ids >= 0], row_scores[row_ids >= 0])
                for row_scores, row_ids in zip(scores, ids, strict=True)
            ]
            short = [row for row, found in enumerate(hits) if len(found.ids) < wanted]
            if short:
                widened = self._params(index, selector, widen_to=wanted + len(tombstones))
                scores, ids = index.search(queries[short], wanted, params=widened)
                for row, row_scores, row_ids in zip(short, scores, ids, strict=True):
                    found = row_ids >= 0
                    if found.sum() == wanted:
                        hits[row] = SearchHits(row_ids[found], row_scores[found])
                    else:
                        candidates = allowed if allowed is not None else self._live_ids(index, tombstones)
                        hits[row] = self._exact(index, queries[row], candidates, wanted)
            return hits

    @staticmethod
    def _live_ids(index: faiss.Index, tombstones: np.ndarray) -> np.ndarray:
        """Every id stored in `index` and not removed: the candidates of an exact search."""
        if isinstance(index, faiss.IndexIDMap2):
            stored = faiss.vector_to_array(index.id_map).astype(np.int64)
        else:
            invlists = faiss.extract_index_ivf(index).invlists
            stored = np.concatenate(
                [np.zeros(0, np.int64)]
                + [
                    faiss.rev_swig_ptr(invlists.get_ids(i), invlists.list_size(i)).copy()
                    for i in range(invlists.nlist)
                    if invlists.list_size(i)
                ]
            )
        return np.setdiff1d(stored, tombstones)

    @staticmethod
    def _exact(index: faiss.Index, query: np.ndarray, allowed: np.ndarray, k: int) -> SearchHits:
        present, vectors = [], []
        for vec_id in allowed:
            try:
                vectors.append(index.reconstruct(int(vec_id)))
            except RuntimeError:  # allowed by the store but not (or no longer) in the index
                continue
            present.append(vec_id)
        if not present:
            return SearchHits(np.zeros(0, np.int64), np.zeros(0, np.float32))
        scores = np.stack(vectors) @ query
        best = np.argsort(-scores, kind="stable")[:k]
        return SearchHits(np.asarray(present, dtype=np.int64)[best], scores[best])

    @staticmethod
    def _params(
        index: faiss.Index, selector: faiss.IDSelector | None, widen_to: int = 0
    ) -> faiss.SearchParameters | None:
        """Search parameters carrying `selector`; `widen_to` > 0 probes every IVF list and
        makes HNSW's search queue at least that long."""
        if selector is None and not widen_to:
            return None
        inner = faiss.downcast_index(index.index) if isinstance(index, faiss.IndexIDMap2) else index
        ivf = faiss.try_extract_index_ivf(inner)
        if ivf is not None:
            params = faiss.SearchParametersIVF()
            params.nprobe = ivf.nlist if widen_to else ivf.nprobe
        elif isinstance(inner, faiss.IndexHNSW):
            params = faiss.SearchParametersHNSW()
            params.efSearch = max(inner.hnsw.efSearch, widen_to)
        else:
            params = faiss.SearchParameters()
        if selector is not None:
            params.sel = selector
        return params

    def save(self, folder: Path, write_seq: int) -> None:
        """Write the index and its tombstones, then the state file naming `write_seq` and their checksums.

        Each file is replaced durably, the state file last: a save cut short leaves a state
        file whose checksums do not match, so the next start rebuilds instead of trusting it.
        """
        with self._lock:
            data = faiss.serialize_index(self._live)
            tombstones = np.array(sorted(self._tombstones), dtype=np.int64)
            state = {
                "write_seq": write_seq,
                "factory": self.factory,
                "dimension": self.dimension,
                "ntotal": int(self._live.ntotal),
                "staging": self._staging is not None,
                "train_size": self._train_size,
            }
        buffer = io.BytesIO()
        np.save(buffer, tombstones)
        files = {_INDEX_FILE: memoryview(data), _TOMBSTONES_FILE: buffer.getvalue()}
        state["checksums"] = {name: hashlib.sha256(content).hexdigest() for name, content in files.items()}
        folder.mkdir(parents=True, exist_ok=True)
        for name, content in files.items():
            write_atomically(folder / name, content)
        write_atomically(folder / _STATE_FILE, json.dumps(state).encode())

    @classmethod
    def load(
        cls, folder: Path, dimension: int, factory: str, search_params: str = ""
    ) -> tuple[FaissIndex, int]:
        """The saved index and the write_seq it reflects.

        FileNotFoundError if no state file was saved. ValueError if the saved index does not
        fit or cannot be trusted: a file unreadable, or not the one the state file's checksum names.
        """
        state = _read_state(folder / _STATE_FILE)
        if state["factory"] != factory or state["dimension"] != dimension:
            raise ValueError(
                f"saved index is {state['factory']}/{state['dimension']}, want {factory}/{dimension}"
            )
        try:
            data = {name: _read_checked(folder / name, state["checksums"].get(name)) for name in _FILES}
            loaded = faiss.deserialize_index(np.frombuffer(data[_INDEX_FILE], dtype=np.uint8))
            tombstones = np.load(io.BytesIO(data[_TOMBSTONES_FILE]))
        except (OSError, RuntimeError, EOFError) as exc:
            raise ValueError(f"cannot read the saved index: {exc}") from exc
        if loaded.ntotal != state["ntotal"]:
            raise ValueError(f"index file holds {loaded.ntotal} vectors, state says {state['ntotal']}")
        index = cls(dimension, factory, state["train_size"], search_params)
        if state["staging"]:
            index._staging = loaded
        else:
            index._index = index._configure(loaded)
            index._staging = None
        index._tombstones = {int(i) for i in tombstones}
        if index._tombstones and index._staging is None:
            with index._lock:
                index._start_compaction()
        return index, int(state["write_seq"])


def _read_state(path: Path) -> dict:
    """The state file, if it is a JSON object with every field of its type; ValueError otherwise."""
    try:
        state = json.loads(path.read_bytes())
    except FileNotFoundError:
        raise
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot read {path.name}: {exc}") from exc
    if not isinstance(state, dict):
        raise ValueError(f"{path.name} holds {type(state).__name__}, not an object")
    wrong = [key for key, kind in _STATE_FIELDS.items() if not isinstance(state.get(key), kind)]
    if wrong:
        raise ValueError(f"{path.name} lacks or mistypes {', '.join(wrong)}")
    return state


def _read_checked(path: Path, expected: object) -> bytes:
    """The file's bytes, read once, if their SHA-256 is the one the state file names."""
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != expected:
        raise ValueError(f"{path.name} does not match the checksum in {_STATE_FILE}")
    return data
