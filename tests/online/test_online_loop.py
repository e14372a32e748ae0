"""The online loop against real servers: feedback → job → gate → re-embed → swap, and rollback."""

from __future__ import annotations

import threading
import time
from collections import defaultdict

import numpy as np
import pytest
from loop_support import DOCUMENTS, client, load_corpus, send_feedback
from tiny_models import TOPICS, make_triplets

from embedtune_client import FailedPreconditionError, InvalidArgumentError, NotFoundError, Triplet
from embedtune_server.backend.onnx_backend import OnnxBackend

pytestmark = pytest.mark.slow


class Load:
    """Client threads that search, embed and upsert without pause, recording what they saw."""

    def __init__(self, server) -> None:
        self._server = server
        self._stop = threading.Event()
        self.versions: dict[str, list[str]] = defaultdict(list)
        self.errors: list[str] = []
        self.acknowledged: dict[str, str] = {}
        self.requests = 0
        self._threads = [
            threading.Thread(target=self._run, args=(name, work), daemon=True)
            for name, work in (
                ("search-1", self._search),
                ("search-2", self._search),
                ("embed", self._embed),
                ("upsert", self._upsert),
            )
        ]

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(60)

    def _run(self, name: str, work) -> None:
        with client(self._server) as c:
            i = 0
            while not self._stop.is_set():
                try:
                    self.versions[name].append(work(c, name, i))
                    self.requests += 1
                except Exception as exc:
                    self.errors.append(f"{name}: {type(exc).__name__}: {exc}")
                i += 1

    @staticmethod
    def _search(c, name: str, i: int) -> str:
        words = TOPICS[sorted(TOPICS)[i % len(TOPICS)]]
        return c.search(" ".join(words[:2]), k=5).model_version

    @staticmethod
    def _embed(c, name: str, i: int) -> str:
        return c.embed_detailed([f"text number {i}", "cat dog"]).model_version

    def _upsert(self, c, name: str, i: int) -> str:
        doc_id, text = (
            f"live-{i}",
            f"{sorted(TOPICS)[i % 4]} note {i} " + " ".join(TOPICS["food"][i % 3 :][:2]),
        )
        version = c.upsert([doc_id], [text]).model_version
        self.acknowledged[doc_id] = text
        return version


def test_a_job_under_load_swaps_in_a_better_model_without_a_failed_request(launch_tiny):
    server = launch_tiny("--quantize")
    load_corpus(server)
    send_feedback(server)
    with client(server) as c:
        base = c.info().model_version
        with Load(server) as load:
            time.sleep(1.0)
            job = c.train(epochs=2, learning_rate=5e-4, gate_margin=-1.0)
            final = c.wait(job, timeout=600)
            time.sleep(1.0)  # traffic after the swap, on the new version
        assert final.state == "activated", final.reason
        assert set(final.state_seconds) >= {"training", "evaluating", "exporting", "reindexing"}
        assert load.errors == []
        assert load.requests > 50
        order = {base: 0, final.version: 1}
        for name, versions in load.versions.items():
            ranks = [order[v] for v in versions]
            assert ranks == sorted(ranks), f"{name} saw the model version go backwards"
            assert ranks[-1] == 1, f"{name} never saw the new version"
        info = c.info()
        assert info.model_version == final.version and info.model_name == "tiny"
        # Every acknowledged write is in the new index, with the new version's vector of its text.
        assert c.count() == len(DOCUMENTS) + len(load.acknowledged) == info.index_size
        stored = {d.id: d.text for d in c.get(list(load.acknowledged))}
        assert stored == load.acknowledged
        new = OnnxBackend(server.home / "models" / final.version, quantized=True)
        for doc_id, text in list(load.acknowledged.items())[-5:]:
            hits = c.search(text, k=20)
            assert doc_id in [h.id for h in hits] and max(h.score for h in hits) == pytest.approx(1, abs=1e-5)
        # Scores are the new version's cosines.
        query = "cat dog horse"
        hit = c.search(query, k=1)[0]
        vectors = new.encode([query, hit.text])
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        assert hit.score == pytest.approx(float(vectors[0] @ vectors[1]), abs=1e-4)
        # The feedback it trained on is used: a second job has nothing to start from.
        with pytest.raises(FailedPreconditionError, match="0 unused feedback items"):
            c.train()
        models = {m.version: m for m in c.models()}
        assert models[final.version].active and models[final.version].parent == base
        assert models[final.version].losses == {"triplet": "MultipleNegativesRankingLoss"}


def test_a_second_job_and_a_job_without_feedback_are_refused(launch_tiny):
    server = launch_tiny()
    with client(server) as c:
        with pytest.raises(
            FailedPreconditionError, match="0 unused feedback items; a job needs min_feedback=20"
        ):
            c.train()
        send_feedback(server, count=30)
        with pytest.raises(
            InvalidArgumentError, match=r"options.losses\['triplet'\]: unknown loss 'NoSuchLoss'"
        ):
            c.train(losses={"triplet": "NoSuchLoss"})
        with pytest.raises(
            InvalidArgumentError, match=r"options.losses\['triplet'\]: CosineSimilarityLoss does not"
        ):
            c.train(losses={"triplet": "CosineSimilarityLoss"})
        with pytest.raises(NotFoundError, match="base_version: no model version 'v99'"):
            c.train(base_version="v99")
        job = c.train(epochs=1)
        with pytest.raises(FailedPreconditionError, match=f"job {job.id} \\(train, .*\\) is running"):
            c.train()
        with pytest.raises(FailedPreconditionError, match=f"job {job.id}"):
            c.activate("tiny")
        assert c.wait(job, timeout=600).done


def test_gate_rejects_feedback_that_contradicts_its_held_out_part(launch_tiny):
    """Training feedback says the other topic is better; the held-out part says the usual."""
    from embedtune_trainer.feedback.snapshot import is_held_out

    server = launch_tiny()
    load_corpus(server)
    rows = iter(make_triplets(400, seed=3))
    with client(server) as c:
        next_id = 1
        while next_id <= 120:
            row = next(rows)
            held_out = is_held_out(next_id, 0.2)
            positive, negative = (
                (row["positive"], row["negative"]) if held_out else (row["negative"], row["positive"])
            )
            [next_id] = c.feedback_many([Triplet(row["anchor"], positive, negative)])
            next_id += 1
        before = c.search("cat dog", k=5)
        job = c.train(epochs=3, learning_rate=1e-3)
        final = c.wait(job, timeout=600)
        assert final.state == "rejected", final.reason
        assert final.gate is not None and not final.gate.passed
        assert final.gate.new_score <= final.gate.active_score
        assert "does not beat" in final.reason
        assert c.info().model_version == "tiny"
        after = c.search("cat dog", k=5)
        assert [(h.id, h.score) for h in after] == [(h.id, h.score) for h in before]
        models = {m.version: m for m in c.models()}
        assert models[final.version].status == "rejected" and not models[final.version].active
        with pytest.raises(FailedPreconditionError, match="rejected"):
            c.activate(final.version)
        # A rejected job leaves its feedback unused: the next job can start from it.
        assert c.wait(c.train(epochs=1, gate_margin=-1.0), timeout=600).state == "activated"


def test_rollback_restores_the_previous_versions_exact_results(launch_tiny):
    server = launch_tiny()
    load_corpus(server)
    send_feedback(server)
    queries = ["cat dog", "rain snow wind", "car bus", "bread soup cheese"]
    with client(server) as c:
        before = [[(h.id, h.score) for h in c.search(q, k=8)] for q in queries]
        trained = c.wait(c.train(epochs=2, learning_rate=5e-4, gate_margin=-1.0), timeout=600)
        assert trained.state == "activated"
        c.upsert(["added-later"], ["cat horse cow"])  # written while v1 serves: rollback embeds it
        during = [[(h.id, h.score) for h in c.search(q, k=8) if h.id != "added-later"] for q in queries]
        assert during != before
        rollback = c.wait(c.activate("tiny"), timeout=600)
        assert rollback.state == "activated" and rollback.kind == "activate"
        assert c.info().model_version == "tiny"
        c.delete(["added-later"])
        after = [[(h.id, h.score) for h in c.search(q, k=8)] for q in queries]
        assert [[i for i, _ in hits] for hits in after] == [[i for i, _ in hits] for hits in before]
        assert np.allclose(
            [[s for _, s in hits] for hits in after], [[s for _, s in hits] for hits in before], atol=1e-6
        )
        forward = c.wait(c.activate(trained.version), timeout=600)
        assert forward.state == "activated" and c.info().model_version == trained.version
        with pytest.raises(FailedPreconditionError, match="already active"):
            c.activate(trained.version)
