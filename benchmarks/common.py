"""What every benchmark shares: the real data beside the repo, the machine, and docs/benchmarks.md.

Each benchmark replaces its own section of docs/benchmarks.md, so a rerun updates
the figures in place and the command that made them stands beside them.
"""

from __future__ import annotations

import csv
import os
import platform
import re
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

import numpy as np

Request = TypeVar("Request")

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("EMBEDTUNE_SHARED_DATA", REPO.parent / "shared" / "data"))
REPORT = REPO / "docs" / "benchmarks.md"
_HEADER = (
    "# Benchmarks\n\n"
    "Every figure here is written by a script in `benchmarks/`, measured against the reference "
    "in the same run, with the command that reproduces it. Speed is never asserted in tests.\n"
)


def shared_data(name: str) -> Path:
    """A folder of ../shared/data, or exit with a clear message (the data is never copied into the repo)."""
    path = SHARED_DATA / name
    if not path.is_dir():
        sys.exit(f"skipped: {path} is absent (set EMBEDTUNE_SHARED_DATA to the shared data folder)")
    return path


def stsb_pairs(split: str = "dev") -> list[tuple[str, str, float]]:
    """STS Benchmark (English) rows: sentence1, sentence2, score 0–5."""
    with open(shared_data("stsb") / f"en-{split}.csv", newline="", encoding="utf-8") as f:
        return [(a, b, float(score)) for a, b, score in csv.reader(f)]


def stsb_sentences(split: str = "dev") -> list[str]:
    """Every sentence of an STSb split, in file order, each once."""
    return list(dict.fromkeys(s for a, b, _ in stsb_pairs(split) for s in (a, b)))


def machine() -> str:
    from embedtune_trainer.bench.machine import machine as cpu_and_cores

    return f"{cpu_and_cores()}, Python {platform.python_version()}, {platform.system()}"


def exported_model(given: Path | None, prefix: str = "embedtune-bench-") -> Path:
    """`given`, or a fresh export (fp32 and int8) of the bundled model in a temporary folder."""
    if given is not None:
        return given
    import tempfile

    from embedtune_trainer.export import export_model_folder

    folder = Path(tempfile.mkdtemp(prefix=prefix)) / "model"
    export_model_folder("default", output=folder, quantize=True)
    return folder


def write_section(title: str, body: str) -> None:
    """Replace (or append) the `## title` section of docs/benchmarks.md."""
    text = REPORT.read_text() if REPORT.exists() else _HEADER
    section = f"## {title}\n\n{body.strip()}\n"
    pattern = re.compile(rf"^## {re.escape(title)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _: section + "\n", text)
    else:
        text = text.rstrip() + "\n\n" + section
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(text.rstrip() + "\n")


def table(header: list[str], rows: list[list[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def server_thread_flags(cores: int) -> tuple[str, ...]:
    """`embedtune serve` flags for the streams and threads it picks by itself on `cores` cores.

    Spelling them out makes a run on a bigger machine measure the same configuration.
    """
    from embedtune_server.backend.onnx_backend import resolve_parallelism

    streams, threads = resolve_parallelism(0, 0, cores)
    return ("--inference-streams", str(streams), "--intra-op-threads", str(threads))


def run_threads(works: list[Callable[[], None]]) -> float:
    """Seconds for one thread per work until all return."""
    threads = [threading.Thread(target=work) for work in works]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - start


def drive_grpc(
    address: str,
    requests: Sequence[Request],
    clients: int,
    sender: Callable[[object], Callable[[Request], object]],
) -> float:
    """Seconds for `clients` threads, each with its own channel, to send every request once between them.

    `sender(channel)` returns the call that sends one request on that channel; the first
    failed request stops its client, and any failure is raised once all have stopped.
    """
    import grpc

    cursor = iter(range(len(requests)))
    lock = threading.Lock()
    errors: list[BaseException] = []

    def client() -> None:
        with grpc.insecure_channel(address) as channel:
            send = sender(channel)
            while True:
                with lock:
                    i = next(cursor, None)
                if i is None:
                    return
                try:
                    send(requests[i])
                except grpc.RpcError as error:
                    errors.append(error)
                    return

    elapsed = run_threads([client] * clients)
    if errors:
        raise RuntimeError(f"{len(errors)} requests failed, first: {errors[0]}")
    return elapsed


def sorted_batches(items: Sequence, keys: Sequence[int], size: int) -> list[list]:
    """`items` in descending `keys` order (ties keep their order), cut into batches of `size`."""
    order = np.argsort([-k for k in keys], kind="stable")
    return [[items[i] for i in order[start : start + size]] for start in range(0, len(order), size)]


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cosine similarity of two embedding matrices."""
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def alternated_medians(runs: list[Callable[[], object]], passes: int, warm_up: bool = True) -> list[float]:
    """Median seconds of each run over `passes` timed passes, after one untimed pass if `warm_up`.

    Every pass runs each once, so a slow spell of the machine hits them all alike, and
    each pass starts one run later than the previous, so no run always goes first.
    """
    seconds: list[list[float]] = [[] for _ in runs]
    first = 0 if warm_up else 1
    for p in range(first, passes + 1):
        for k in range(len(runs)):
            i = (p + k) % len(runs)
            start = time.perf_counter()
            runs[i]()
            if p:
                seconds[i].append(time.perf_counter() - start)
    return [float(np.median(s)) for s in seconds]
