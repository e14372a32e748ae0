"""A home always starts: an index that cannot be trusted is rebuilt, a disk that cannot take it is survived.

Each damage is done to a copy of one home whose server saved its index on a graceful stop;
the restarted server must warn, rebuild from the store, answer every document's own text
with that document, and leave a saved index that loads.
"""

from __future__ import annotations

import asyncio
import errno
import hashlib
import json
import logging
import os
import random
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from topics import TOPICS

from embedtune_client.v1 import embedtune_pb2 as pb
from embedtune_server.corpus import Corpus
from embedtune_server.index.faiss_index import FaissIndex
from embedtune_server.settings import ServerSettings
from embedtune_server.store import open_database
from embedtune_server.store.documents import Document

ANGLES = (
    "A short history of {}, from the first records to today.",
    "How {} work, explained for a curious child.",
    "Five common myths about {} and why they persist.",
    "What it costs to get started with {}, item by item.",
)
# Enough documents that the index file outgrows what the full-disk test leaves free.
DOCUMENTS = {
    f"doc-{i:03d}": text for i, text in enumerate(angle.format(topic) for angle in ANGLES for topic in TOPICS)
}
# SQLite needs room for its WAL index (-shm) to open the store at all.
ROOM_FOR_SQLITE = 64 * 1024


def saved_index(home: Path) -> Path:
    (folder,) = [f for f in (home / "index").iterdir() if not f.name.startswith(".")]
    return folder


def assert_each_document_finds_itself(server) -> None:
    ids = list(DOCUMENTS)
    with server.channel() as channel:
        index = server.stubs(channel)[1]
        assert index.Count(pb.CountRequest()).count == len(ids)
        for start in range(0, len(ids), 32):
            chunk = ids[start : start + 32]
            queries = [pb.SearchRequest(text=DOCUMENTS[i], k=1) for i in chunk]
            results = index.BatchSearch(pb.BatchSearchRequest(queries=queries)).results
            assert [r.hits[0].id for r in results] == chunk


def assert_saved_index_is_whole(home: Path) -> None:
    folder = saved_index(home)
    state = json.loads((folder / "state.json").read_text())
    index, _ = FaissIndex.load(folder, state["dimension"], "Flat")
    assert index.size == len(DOCUMENTS)


@pytest.fixture(scope="module")
def saved_home(launch) -> Path:
    """A home holding DOCUMENTS, its index saved by a graceful stop."""
    server = launch()
    documents = [pb.Document(id=i, text=t) for i, t in DOCUMENTS.items()]
    with server.channel() as channel:
        index = server.stubs(channel)[1]
        for start in range(0, len(documents), 32):
            index.Upsert(pb.UpsertRequest(documents=documents[start : start + 32]))
    assert server.stop() == 0
    return server.home


def overwrite(name: str, content: bytes) -> Callable[[Path], None]:
    return lambda folder: (folder / name).write_bytes(content)


def edit_state(change: Callable[[dict], None]) -> Callable[[Path], None]:
    def damage(folder: Path) -> None:
        state = json.loads((folder / "state.json").read_text())
        change(state)
        (folder / "state.json").write_text(json.dumps(state))

    return damage


def record_checksum(state: dict, name: str, content: bytes) -> None:
    state["checksums"][name] = hashlib.sha256(content).hexdigest()


def overwrite_recorded(name: str, content: bytes) -> Callable[[Path], None]:
    """`content` with its checksum in the state file: only parsing the file can reject it."""

    def damage(folder: Path) -> None:
        overwrite(name, content)(folder)
        edit_state(lambda state: record_checksum(state, name, content))(folder)

    return damage


def flip_bytes(folder: Path) -> None:
    """2,000 bytes inverted among the vectors: FAISS still reads the file, the scores are wrong."""
    path = folder / "index.faiss"
    data = bytearray(path.read_bytes())
    for offset in random.Random(13).sample(range(len(data) // 10, len(data) * 8 // 10), 2000):
        data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


DAMAGES = {
    "index.faiss empty": overwrite("index.faiss", b""),
    "index.faiss missing": lambda folder: (folder / "index.faiss").unlink(),
    "index.faiss garbage, checksum recorded": overwrite_recorded(
        "index.faiss", random.Random(1).randbytes(4096)
    ),
    "index.faiss flipped bytes": flip_bytes,
    "tombstones.npy empty": overwrite("tombstones.npy", b""),
    "tombstones.npy empty, checksum recorded": overwrite_recorded("tombstones.npy", b""),
    "tombstones.npy garbage, checksum recorded": overwrite_recorded(
        "tombstones.npy", b"\x93NUMPY\x01\x00junk"
    ),
    "state.json null": overwrite("state.json", b"null"),
    "state.json []": overwrite("state.json", b"[]"),
    "state.json garbage": overwrite("state.json", b"\xff{write_seq: 3"),
    "state.json missing keys": edit_state(lambda state: state.pop("write_seq")),
    "state.json without checksums": edit_state(lambda state: state.pop("checksums")),
    "state.json wrong checksum": edit_state(lambda state: record_checksum(state, "index.faiss", b"")),
}


@pytest.mark.slow
@pytest.mark.parametrize("damage", DAMAGES.values(), ids=DAMAGES.keys())
def test_a_damaged_saved_index_is_rebuilt_from_the_store(launch, saved_home, tmp_path, damage):
    home = tmp_path / "home"
    shutil.copytree(saved_home, home)
    damage(saved_index(home))
    server = launch(home=home)
    assert_each_document_finds_itself(server)
    assert "WARNING embedtune_server.corpus: saved index at" in server.log_text()
    assert "unusable" in server.log_text()
    assert_saved_index_is_whole(home)


def eventually(condition: Callable[[], bool], within_s: float = 60) -> bool:
    """Whether `condition` holds within `within_s` (a bound on waiting, not a claim about speed)."""
    deadline = time.monotonic() + within_s
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.2)
    return condition()


def fill(disk: Path, leave: int) -> Path:
    """A file taking all of `disk`'s free space but `leave` bytes."""
    filler = disk / "filler"
    stat = os.statvfs(disk)
    filler.write_bytes(bytes(stat.f_bavail * stat.f_frsize - leave))
    return filler


@pytest.mark.slow
def test_a_full_disk_serves_the_rebuilt_index_from_memory_and_saves_it_once_space_returns(
    launch, saved_home, small_disk
):
    shutil.copytree(saved_home, small_disk, dirs_exist_ok=True)
    folder = saved_index(small_disk)
    (folder / "state.json").write_bytes(b"null")
    filler = fill(small_disk, leave=ROOM_FOR_SQLITE)
    assert (folder / "index.faiss").stat().st_size > ROOM_FOR_SQLITE
    server = launch("--index-save-interval-s", "0.5", home=small_disk)
    assert_each_document_finds_itself(server)
    log = server.log_text()
    assert "WARNING embedtune_server.corpus: cannot save the index rebuilt" in log
    assert "No space left on device" in log
    assert eventually(lambda: "WARNING embedtune_server.app: saving the index failed" in server.log_text())
    filler.unlink()
    assert eventually(lambda: (folder / "state.json").read_bytes() != b"null")
    assert_saved_index_is_whole(small_disk)
    assert server.stop() == 0


def test_a_rebuilt_index_that_cannot_be_saved_serves_and_is_saved_by_a_later_attempt(
    tmp_path, monkeypatch, caplog
):
    space, dimension = "v1:fp32", 16
    settings = ServerSettings(home=tmp_path)
    database = open_database(settings)
    corpus = Corpus(database, settings)
    vectors = np.random.default_rng(0).standard_normal((50, dimension)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    with database.write() as connection:
        added = corpus.documents.upsert(
            connection, [Document(f"d{i}", f"text {i}") for i in range(50)], vectors, space
        )

    async def embed(texts: list[str]) -> np.ndarray:
        raise AssertionError("every document already has a vector in the space")

    def full_disk(path: Path, data: bytes) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(Path, "write_bytes", full_disk)
    with caplog.at_level(logging.WARNING, logger="embedtune_server.corpus"):
        index = asyncio.run(corpus.open_index(space, dimension, embed))
    monkeypatch.undo()
    assert "serving it from memory" in caplog.text and "No space left" in caplog.text
    assert [int(hits.ids[0]) for hits in index.search(vectors, 1)] == [r.vec_id for r in added]
    folder = corpus.index_folder(space)
    with pytest.raises(FileNotFoundError):
        FaissIndex.load(folder, dimension, "Flat")
    assert corpus.save_index(SimpleNamespace(space=space, index=index))
    loaded, seq = FaissIndex.load(folder, dimension, "Flat")
    assert seq == database.write_seq() and loaded.size == 50
    database.close()
