"""What the online-loop tests share: a small corpus and learnable feedback on it, and job helpers."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from tiny_models import TOPICS, make_triplets

from embedtune_client import Client, Job, Triplet
from embedtune_server.launcher import ServerProcess

# Documents: three words of one topic each, so a search for a topic's words should find its documents.
DOCUMENTS = {
    f"{topic}-{i}": " ".join(words[(i + k) % len(words)] for k in range(3))
    for topic, words in sorted(TOPICS.items())
    for i in range(len(words))
}


def client(server: ServerProcess) -> Client:
    return Client(server.address, timeout=60)


def load_corpus(server: ServerProcess) -> None:
    with client(server) as c:
        c.upsert(list(DOCUMENTS), list(DOCUMENTS.values()))


def send_feedback(server: ServerProcess, count: int = 120, seed: int = 1) -> list[int]:
    """Triplets where anchor and positive share a topic: a model learns them in a few steps."""
    rows = make_triplets(count, seed)
    with client(server) as c:
        return c.feedback_many([Triplet(r["anchor"], r["positive"], r["negative"]) for r in rows])


def wait_for_state(server: ServerProcess, job: Job, states: set[str], timeout: float = 300) -> Job:
    """Follow the job until it is in one of `states` (or has ended); returns it then."""
    deadline = time.monotonic() + timeout
    with client(server) as c:
        while time.monotonic() < deadline:
            seen = c.job(job.id)
            if seen.state in states or seen.done:
                return seen
            time.sleep(0.02)
    raise TimeoutError(f"job {job.id} did not reach {states} in {timeout}s")


def child_pids(pid: int) -> list[int]:
    """The direct children of process `pid` (Linux /proc)."""
    children = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        children.extend(int(c) for c in text)
    return children


def kill_children(server: ServerProcess) -> None:
    for pid in child_pids(server.process.pid):
        os.kill(pid, signal.SIGKILL)


def leftovers(home: Path) -> list[Path]:
    """Partial or temporary folders a finished or restarted server must not keep."""
    return [p for parent in (home / "models", home / "index") if parent.is_dir() for p in parent.glob(".*")]
