"""A job interrupted at each point: SIGKILL of the server, death of the trainer, cancellation.

After any of them the last active version serves, nothing acknowledged is lost, the
unused feedback is still unused, and no partial version is listed or left on disk.
"""

from __future__ import annotations

import sqlite3

import pytest
from loop_support import (
    DOCUMENTS,
    client,
    kill_children,
    leftovers,
    load_corpus,
    send_feedback,
    wait_for_state,
)

from embedtune_server.failpoints import AFTER_SWAP_COMMIT, ENV

pytestmark = pytest.mark.slow

# Options that make each state last long enough (seconds, on the tiny model) to be hit from outside.
LONG_STATE = {
    "training": {"feedback": 120, "options": {"epochs": 30}},
    "evaluating": {"feedback": 1500, "options": {"epochs": 1, "held_out_fraction": 0.9, "batch_size": 64}},
    "exporting": {"feedback": 120, "options": {"epochs": 1}},
    "reindexing": {"feedback": 120, "options": {"epochs": 1}},
}


def unused_feedback(home) -> int:
    with sqlite3.connect(home / "embedtune.sqlite3") as db:
        return db.execute("SELECT COUNT(*) FROM feedback WHERE consumed_by IS NULL").fetchone()[0]


def start_job(server, state: str):
    load_corpus(server)
    sent = len(send_feedback(server, count=LONG_STATE[state]["feedback"]))
    with client(server) as c:
        job = c.train(gate_margin=-1.0, **LONG_STATE[state]["options"])
    seen = wait_for_state(server, job, {state})
    assert seen.state == state, f"the job went past {state}: {seen.state} {seen.reason}"
    return job, sent


def check_nothing_lost(server, sent: int, new_version: str) -> None:
    with client(server) as c:
        info = c.info()
        assert info.model_version == "tiny"
        assert c.count() == len(DOCUMENTS) == info.index_size
        assert c.search(DOCUMENTS["animals-0"], k=1)[0].id == "animals-0"
        models = {m.version: m for m in c.models()}
        assert models["tiny"].active
        assert new_version not in models or not models[new_version].active
    assert unused_feedback(server.home) == sent
    assert leftovers(server.home) == []


@pytest.mark.parametrize("state", list(LONG_STATE))
def test_server_killed_during_a_job_restarts_on_the_last_active_version(launch_tiny, state):
    server = launch_tiny("--index-save-interval-s", "3600")
    job, sent = start_job(server, state)
    server.kill()
    restarted = launch_tiny(home=server.home)
    with client(restarted) as c:
        failed = c.job(job.id)
        assert failed.state == "failed" and f"while the job was {state}" in failed.reason
        listed = {m.version for m in c.models()}
    # Only an exported version (killed while re-embedding) may be listed; it is complete.
    assert (job.version in listed) == (state == "reindexing")
    check_nothing_lost(restarted, sent, job.version)


@pytest.mark.parametrize("state", ["training", "reindexing"])
def test_a_dead_child_fails_the_job_and_the_server_keeps_serving(launch_tiny, state):
    server = launch_tiny()
    job, sent = start_job(server, state)
    kill_children(server)
    with client(server) as c:
        failed = c.wait(job, timeout=120)
    assert failed.state == "failed" and "killed by signal 9 (SIGKILL)" in failed.reason
    check_nothing_lost(server, sent, job.version)


@pytest.mark.parametrize("state", list(LONG_STATE))
def test_cancel_in_each_state_keeps_the_active_version(module_tiny_server, state):
    """One server for every state: a cancelled job leaves it idle, its feedback unused."""
    server = module_tiny_server
    left_unused = unused_feedback(server.home)
    job, sent = start_job(server, state)
    with client(server) as c:
        cancelled = c.cancel(job)
        assert cancelled.state == "cancelled" and cancelled.reason == "cancelled by request"
        assert c.job(job.id).state == "cancelled"
    check_nothing_lost(server, left_unused + sent, job.version)


def test_server_killed_just_after_the_swap_serves_the_new_version_with_every_write(launch_tiny):
    server = launch_tiny("--index-save-interval-s", "3600", env={ENV: AFTER_SWAP_COMMIT})
    load_corpus(server)
    send_feedback(server)
    with client(server) as c:
        job = c.train(epochs=1, gate_margin=-1.0)
        activated = wait_for_state(server, job, {"activated"})
        assert activated.state == "activated"
        written = c.upsert(["after-swap"], ["cat dog bread"])  # into the new index; the next save is far off
        assert written.model_version == job.version
    server.kill()
    restarted = launch_tiny(home=server.home)
    assert "caught up from the change log" in restarted.log_text()
    with client(restarted) as c:
        info = c.info()
        assert info.model_version == job.version
        assert c.count() == len(DOCUMENTS) + 1 == info.index_size
        hit = c.search("cat dog bread", k=1)[0]
        assert hit.id == "after-swap" and hit.score == pytest.approx(1.0, abs=1e-5)
        assert c.job(job.id).state == "activated"
    assert unused_feedback(restarted.home) == 0
