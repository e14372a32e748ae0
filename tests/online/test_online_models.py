"""Model versions around the loop: adding a model, retention, and training started by the policy."""

from __future__ import annotations

import sqlite3
import time

import pytest
from loop_support import DOCUMENTS, client, load_corpus, send_feedback
from tiny_models import build_tiny_encoder

from embedtune_client import FailedPreconditionError, InvalidArgumentError, NotFoundError

pytestmark = pytest.mark.slow


def test_add_model_exports_a_folder_without_onnx_and_activating_it_serves_it(launch_tiny, tmp_path):
    offline = tmp_path / "trained-offline"
    build_tiny_encoder(seed=7, dropout=0.0).save(offline)  # a sentence-transformers folder, no onnx/
    server = launch_tiny()
    load_corpus(server)
    with client(server) as c:
        added = c.wait(c.add_model(str(offline)), timeout=600)
        assert added.state == "activated" and added.kind == "add_model", added.reason
        assert c.info().model_version == "tiny"  # registered, not served
        model = {m.version: m for m in c.models()}[added.version]
        assert model.status == "ready" and not model.active and model.parent == ""
        assert (server.home / "models" / added.version / "onnx" / "model.onnx").is_file()
        activated = c.wait(c.activate(added.version), timeout=600)
        assert activated.state == "activated"
        assert c.search("cat dog", k=1).model_version == added.version
        assert c.count() == len(DOCUMENTS) == c.info().index_size


def test_add_model_refuses_what_is_not_a_model(launch_tiny, tmp_path):
    not_a_model = tmp_path / "empty"
    not_a_model.mkdir()
    server = launch_tiny()
    with client(server) as c:
        with pytest.raises(InvalidArgumentError, match="source: empty"):
            c.add_model(" ")
        failed = c.wait(c.add_model(str(not_a_model)), timeout=600)
        assert failed.state == "failed" and str(not_a_model) in failed.reason
        assert failed.version not in {m.version for m in c.models()}
        with pytest.raises(NotFoundError, match="no model version 'v404'"):
            c.activate("v404")
    assert list((server.home / "models").glob(".*")) == []


def test_retention_keeps_the_active_version_and_the_newest_others(launch_tiny, tmp_path):
    offline = tmp_path / "offline"
    build_tiny_encoder(seed=3, dropout=0.0).save(offline)
    server = launch_tiny("--keep-versions", "2")
    load_corpus(server)
    with client(server) as c:
        first = c.wait(c.add_model(str(offline)), timeout=600)
        assert c.wait(c.activate(first.version), timeout=600).state == "activated"
        second = c.wait(c.add_model(str(offline)), timeout=600)
        # "tiny" was the oldest that is not active: it goes, with its vectors and index, once the
        # job has ended (retention runs after every job)
        deadline = time.monotonic() + 30
        while len(c.models()) > 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert [m.version for m in c.models()] == [first.version, second.version]
        with pytest.raises(NotFoundError):
            c.activate("tiny")
    with sqlite3.connect(server.home / "embedtune.sqlite3") as db:
        spaces = {row[0] for row in db.execute("SELECT DISTINCT space FROM embeddings")}
    assert spaces == {f"{first.version}:fp32"}
    assert not (server.home / "index" / "tiny-fp32").exists()
    assert (server.home / "index" / f"{first.version}-fp32").is_dir()


def test_the_policy_starts_a_job_once_enough_new_feedback_arrived(launch_tiny):
    server = launch_tiny("--auto-train-every", "40", "--auto-train-min-interval-s", "0")
    load_corpus(server)
    send_feedback(server, count=20)
    time.sleep(4)  # two looks of the policy: not enough feedback yet
    with client(server) as c:
        assert c.jobs() == []
        send_feedback(server, count=20, seed=2)
        deadline = time.monotonic() + 60
        while not c.jobs() and time.monotonic() < deadline:
            time.sleep(0.2)
        [job] = c.jobs()
        assert job.kind == "train" and job.options.min_feedback == 40
        final = c.wait(job, timeout=600)
        assert final.done
        time.sleep(5)  # the same feedback does not start a second job
        assert len(c.jobs()) == 1
        if final.state == "rejected":
            with pytest.raises(FailedPreconditionError, match="min_feedback=41"):
                c.train(min_feedback=41)
