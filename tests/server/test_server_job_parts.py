"""The parts under the job runner, without processes.

Options, the loss catalog, the change log, embeddings per space, version names, job records.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from embedtune_client.v1 import embedtune_pb2 as pb
from embedtune_server.jobs import record
from embedtune_server.jobs.catalog import LossCatalog
from embedtune_server.jobs.options import TrainingOptions, from_proto
from embedtune_server.jobs.record import Job
from embedtune_server.settings import ServerSettings
from embedtune_server.store import open_database
from embedtune_server.store.documents import Document, DocumentStore
from embedtune_server.store.models import ModelRecord, ModelRegistry
from embedtune_server.validation import ValidationError


def test_options_take_the_defaults_and_what_the_request_sets():
    options = from_proto(pb.TrainingOptions(epochs=2.5, losses={"pair": "mnrl"}))
    assert options == TrainingOptions(epochs=2.5, losses={"pair": "mnrl"})
    assert options.to_proto().epochs == 2.5 and options.to_proto().HasField("batch_size")


@pytest.mark.parametrize(
    ("message", "fragment"),
    [
        (pb.TrainingOptions(epochs=0), "options.epochs: 0 is outside (0, 100]"),
        (pb.TrainingOptions(batch_size=1), "options.batch_size: 1 is outside [2, 4096]"),
        (pb.TrainingOptions(learning_rate=float("nan")), "options.learning_rate: nan"),
        (pb.TrainingOptions(held_out_fraction=0.95), "options.held_out_fraction: 0.95 is outside (0, 0.9]"),
        (pb.TrainingOptions(gate_margin=-2), "options.gate_margin: -2 is outside [-1, 1]"),
        (pb.TrainingOptions(losses={"quad": "TripletLoss"}), "options.losses: unknown feedback kind 'quad'"),
        (pb.TrainingOptions(losses={"pair": " "}), "options.losses['pair']: empty loss name"),
    ],
)
def test_options_out_of_bounds_name_the_field(message, fragment):
    with pytest.raises(ValidationError) as refused:
        from_proto(message)
    assert fragment in str(refused.value)


CATALOG = LossCatalog(
    names={"tripletloss": "TripletLoss", "triplet": "TripletLoss", "mnrl": "MultipleNegativesRankingLoss",
           "cosinesimilarityloss": "CosineSimilarityLoss", "contrastiveloss": "ContrastiveLoss"},
    kinds={
        "triplet": {"none": {"default": "MultipleNegativesRankingLoss",
                             "fitting": ["TripletLoss", "MultipleNegativesRankingLoss"]}},
        "labeled_pair": {
            "float": {"default": "CosineSimilarityLoss", "fitting": ["CosineSimilarityLoss"]},
            "int": {"default": "ContrastiveLoss", "fitting": ["CosineSimilarityLoss", "ContrastiveLoss"]},
        },
    },
)  # fmt: skip


def test_catalog_resolves_spellings_defaults_and_refuses_what_does_not_fit():
    assert CATALOG.resolve("triplet", "none", None, "f") == "MultipleNegativesRankingLoss"
    assert CATALOG.resolve("triplet", "none", " Triplet ", "f") == "TripletLoss"
    assert CATALOG.label_kind("triplet", has_float_label=True) == "none"
    assert CATALOG.label_kind("labeled_pair", has_float_label=False) == "int"
    assert CATALOG.resolve("labeled_pair", "int", "CosineSimilarityLoss", "f") == "CosineSimilarityLoss"
    with pytest.raises(ValidationError, match=r"^x: unknown loss 'Nope'; known: ContrastiveLoss, "):
        CATALOG.resolve("triplet", "none", "Nope", "x")
    with pytest.raises(
        ValidationError, match="ContrastiveLoss does not train on labeled_pair feedback with float"
    ):
        CATALOG.resolve("labeled_pair", "float", "contrastiveloss", "x")


@pytest.fixture
def database(tmp_path):
    database = open_database(ServerSettings(home=tmp_path))
    yield database
    database.close()


def write(database, store: DocumentStore, ids: list[str]) -> None:
    with database.write() as connection:
        store.upsert(connection, [Document(i, f"text {i}") for i in ids], np.ones((len(ids), 4)), "v1:fp32")


def test_the_change_log_gives_the_net_changes_since_a_sequence(database):
    store = DocumentStore(database)
    write(database, store, ["a", "b"])
    start = database.write_seq()
    write(database, store, ["c"])  # added
    write(database, store, ["a"])  # replaced: old vec_id removed, new one added
    with database.write() as connection:
        store.delete(connection, ["b", "c"], ignore_missing=False)  # b existed before, c did not
    changes = store.changes_since(start)
    now = {d.id: vec_id for vec_id, d in store.by_vec_ids(range(1, 10)).items()}
    assert now == {"a": 4} and changes.seq == database.write_seq()
    assert changes.added == {4} and changes.removed == {1, 2}  # c (vec 3) came and went: in neither
    with database.write() as connection:
        store.prune_changes(connection, start + 1)
    assert store.changes_since(start) is None  # pruned past it: the caller must rebuild
    assert store.changes_since(start + 1) is not None


def test_embeddings_are_kept_per_space_and_go_with_their_document(database):
    store = DocumentStore(database)
    write(database, store, ["a", "b"])
    with database.write() as connection:
        assert store.set_embeddings(connection, "v2:int8", [1, 2, 99], np.zeros((3, 4))) == 2  # 99 is gone
    assert store.count_without("v2:int8") == 0 and store.spaces() == {"v1:fp32", "v2:int8"}
    with database.write() as connection:
        store.delete(connection, ["a"], ignore_missing=False)
        store.drop_space(connection, "v1:fp32")
    assert store.spaces() == {"v2:int8"} and list(store.vectors_of("v2:int8", [1, 2])) == [2]


def test_version_names_are_never_given_twice(database):
    registry = ModelRegistry(database)
    with database.write() as connection:
        registry.add(connection, ModelRecord("v1", database.path.parent, "base"))
        first = registry.reserve_name(connection)
        second = registry.reserve_name(connection)  # the first was never registered (a failed job)
    assert (first, second) == ("v2", "v3")


def test_a_job_books_the_seconds_of_each_state_and_estimates_what_is_left():
    job = Job(id=1, kind=record.TRAIN)
    job.state_started_at -= 2.0
    job.enter(record.TRAINING)
    job.state_started_at -= 10.0
    job.advance(25, 100, "steps")
    assert job.progress.eta_s == pytest.approx(30.0, rel=0.05)
    job.enter(record.REJECTED)
    assert job.finished and job.finished_at == pytest.approx(time.time(), abs=5)
    assert job.state_seconds[record.QUEUED] == pytest.approx(2.0, abs=0.5)
    assert job.state_seconds[record.TRAINING] == pytest.approx(10.0, abs=0.5)
    assert Job.from_json(job.to_json()) == job
