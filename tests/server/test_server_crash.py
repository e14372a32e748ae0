"""Acknowledged writes survive SIGKILL; the background save and a graceful stop leave an index a
restart loads as it is."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import grpc
import numpy as np
import pytest
from topics import TOPICS

from embedtune_client.v1 import embedtune_pb2 as pb


def text_of(i: int, version: int = 1) -> str:
    return f"Notes, edition {version}, on {TOPICS[i]}: what everyone should know about {TOPICS[i]}."


def write_everything(server) -> None:
    with server.channel() as channel:
        _, index, feedback = server.stubs(channel)
        for start in range(0, 30, 10):
            documents = [pb.Document(id=f"doc-{i:02d}", text=text_of(i)) for i in range(start, start + 10)]
            assert index.Upsert(pb.UpsertRequest(documents=documents)).upserted == 10
        index.Upsert(pb.UpsertRequest(documents=[pb.Document(id="doc-05", text=text_of(5, version=2))]))
        assert index.Delete(pb.DeleteRequest(ids=["doc-07"])).deleted == 1
        items = [
            pb.FeedbackItem(
                triplet=pb.Triplet(
                    anchor=pb.TextRef(text="facts about glaciers"),
                    positive=pb.TextRef(document_id="doc-06"),
                    negative=pb.TextRef(document_id="doc-08"),
                )
            ),
            pb.FeedbackItem(
                labeled_pair=pb.LabeledPair(text1=pb.TextRef(text="a"), text2=pb.TextRef(text="b"), score=0.5)
            ),
        ]
        assert len(feedback.SubmitFeedback(pb.SubmitFeedbackRequest(items=items)).ids) == 2


def check_everything(server) -> None:
    with server.channel() as channel:
        _, index, _ = server.stubs(channel)
        assert index.Count(pb.CountRequest()).count == 29
        assert index.Get(pb.GetRequest(ids=["doc-05"])).documents[0].text == text_of(5, version=2)
        with pytest.raises(grpc.RpcError) as missing:
            index.Get(pb.GetRequest(ids=["doc-07"]))
        assert missing.value.code() == grpc.StatusCode.NOT_FOUND
        for i in (0, 5, 13, 29):
            hit = index.Search(pb.SearchRequest(text=text_of(i, version=2 if i == 5 else 1), k=1)).hits[0]
            assert hit.id == f"doc-{i:02d}"
        hits = index.Search(pb.SearchRequest(text=text_of(7), k=29)).hits
        assert "doc-07" not in [h.id for h in hits] and len(hits) == 29
    with sqlite3.connect(server.home / "embedtune.sqlite3") as db:
        rows = db.execute("SELECT kind, item FROM feedback ORDER BY id").fetchall()
    assert [kind for kind, _ in rows] == ["triplet", "labeled_pair"]
    triplet = json.loads(rows[0][1])["texts"]
    assert triplet["positive"] == {"document_id": "doc-06", "text": text_of(6)}


def restart_gracefully(launch, home: Path, *flags: str):
    """A server on `home` written to and stopped with SIGTERM, restarted with `flags`, checked."""
    server = launch(home=home)
    write_everything(server)
    assert server.stop() == 0
    restarted = launch(*flags, home=home)
    check_everything(restarted)
    return restarted


@pytest.mark.slow
def test_acknowledged_writes_survive_sigkill(launch, tmp_path):
    home = tmp_path / "home"
    server = launch("--index-save-interval-s", "3600", home=home)
    write_everything(server)
    server.kill()
    restarted = launch(home=home)
    check_everything(restarted)
    assert "caught up from the change log" in restarted.log_text()


def store_write_seq(home: Path) -> int:
    with sqlite3.connect(home / "embedtune.sqlite3") as db:
        return int(db.execute("SELECT value FROM meta WHERE key = 'write_seq'").fetchone()[0])


def saved_write_seq(home: Path) -> int | None:
    """The write the saved index's state file names (None before one is saved).

    The state file is replaced last and atomically, so the one read is always whole.
    """
    states = [p for p in (home / "index").glob("*/state.json") if not p.parent.name.startswith(".")]
    return json.loads(states[0].read_text())["write_seq"] if states else None


@pytest.mark.slow
def test_background_save_lets_a_restart_after_sigkill_load_the_index_as_it_is(launch, tmp_path):
    home = tmp_path / "home"
    server = launch("--index-save-interval-s", "0.2", home=home)
    write_everything(server)
    written = store_write_seq(home)
    deadline = time.monotonic() + 60
    while saved_write_seq(home) != written:
        assert time.monotonic() < deadline, f"no background save reached write {written}"
        time.sleep(0.05)
    server.kill()
    restarted = launch("--index-save-interval-s", "3600", home=home)
    log = restarted.log_text()
    # nothing to catch up, rebuild or embed: the index saved in the background was current
    assert f"loaded: up to date at write {written}" in log
    assert "caught up" not in log and "building" not in log
    check_everything(restarted)


@pytest.mark.slow
def test_graceful_restart_reuses_the_saved_index(launch, tmp_path):
    restarted = restart_gracefully(launch, tmp_path / "home")
    assert "building" not in restarted.log_text()


@pytest.mark.slow
def test_restart_with_another_index_type_rebuilds_from_stored_embeddings(launch, tmp_path):
    restarted = restart_gracefully(launch, tmp_path / "home", "--index-factory", "HNSW32")
    assert "rebuilding" in restarted.log_text()
    with restarted.channel() as channel:
        assert restarted.stubs(channel)[0].Info(pb.InfoRequest()).index_type == "HNSW32"


@pytest.mark.slow
def test_restart_with_quantize_toggled_serves_one_space(launch, tmp_path):
    """The int8 graph is another embedding space: its index never mixes in fp32 vectors."""
    home = tmp_path / "home"
    restarted = restart_gracefully(launch, home, "--quantize")
    assert "building it from the store" in restarted.log_text()
    with sqlite3.connect(home / "embedtune.sqlite3") as db:
        rows = db.execute("SELECT space, vec_id, vector FROM embeddings").fetchall()
    by_graph: dict[str, dict[int, np.ndarray]] = {}
    for space, vec_id, blob in rows:
        by_graph.setdefault(space.rpartition(":")[2], {})[vec_id] = np.frombuffer(blob, dtype=np.float32)
    assert sorted(by_graph) == ["fp32", "int8"] and len(by_graph["int8"]) == 29
    # every document was embedded again by the int8 graph, none copied from the fp32 space
    assert by_graph["int8"].keys() == by_graph["fp32"].keys()
    assert all(np.abs(by_graph["int8"][i] - by_graph["fp32"][i]).max() > 1e-4 for i in by_graph["int8"])
