"""What every benchmark shares: the real data beside the repo, the machine, and docs/benchmarks.md.

Each benchmark replaces its own section of docs/benchmarks.md, so a rerun updates
the figures in place and the command that made them stands beside them.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import re
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import numpy as np

if TYPE_CHECKING:
    from embedtune_server.launcher import ServerProcess

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


def scifact_abstracts(count: int) -> list[str]:
    """The first `count` SciFact abstracts, each as "title. text": document-length inputs."""
    with open(shared_data("scifact") / "corpus.jsonl", encoding="utf-8") as f:
        rows = [json.loads(line) for _, line in zip(range(count), f, strict=False)]
    return [f"{row.get('title', '')}. {row['text']}" for row in rows]


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


def start_bench_server(model: Path, label: str, cores: int, *flags: str) -> ServerProcess:
    """A real `embedtune serve` on a fresh home with the streams and threads it picks on `cores`
    cores, admitting every request a benchmark sends at once (overload refusals would end the run)."""
    import tempfile

    from embedtune_server.launcher import start_server

    home = Path(tempfile.mkdtemp(prefix=f"embedtune-bench-{label}-"))
    return start_server(model, home, *flags, *server_thread_flags(cores), "--max-concurrent-requests", "4096")


def cpu_seconds(pid: int | None = None) -> float:
    """User + system CPU seconds of a process, all its threads (this one when `pid` is None).

    Reads /proc/PID/stat (Linux): the server's share of a run, apart from its clients'.
    """
    if pid is None:
        times = os.times()
        return times.user + times.system
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """CPU seconds of a server and of this process (its clients), per run, over every pass."""

    def __init__(self) -> None:
        self.samples: dict[object, list[tuple[float, float]]] = {}

    def metered(self, key: object, run: Callable[[], object], pid: int | None) -> Callable[[], None]:
        """`run`, recording the server's (`pid`, when known) and this process's CPU seconds under `key`."""

        def go() -> None:
            server, client = cpu_seconds(pid) if pid else 0.0, cpu_seconds()
            run()
            server = cpu_seconds(pid) - server if pid else float("nan")
            self.samples.setdefault(key, []).append((server, cpu_seconds() - client))

        return go

    def per_item_ms(self, key: object, items: int) -> tuple[float, float]:
        """Median server and client CPU milliseconds per item of the runs recorded under `key`."""
        server, client = np.median(np.array(self.samples[key]), axis=0)
        return float(server) * 1000 / items, float(client) * 1000 / items


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


# One fine-tuning recipe for every "ours beside sentence-transformers" training benchmark.
FINE_TUNING = {
    "epochs": 1,
    "batch_size": 16,
    "learning_rate": 2e-5,
    "warmup_ratio": 0.1,
    "weight_decay": 0.01,
}
FINE_TUNING_SEED = 42
FINE_TUNING_TEXT = "1 epoch, batch 16, lr 2e-5, 10% warm-up, weight decay 0.01, seed 42"


FINE_TUNING_THREADS = 2


def fine_tuning_parser(description: str) -> argparse.ArgumentParser:
    """The options every training benchmark takes: a smoke run, and which trainer goes first."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="320 training pairs, 300 dev pairs: a smoke run")
    parser.add_argument("--ours-first", action="store_true", help="run ours before the reference")
    return parser


def stsb_fine_tuning_rows(quick: bool) -> tuple[list[tuple[str, str, float]], list[tuple[str, str, float]]]:
    """STSb train and dev rows for a training benchmark (subsets when `quick`), with torch
    limited to `FINE_TUNING_THREADS` for both trainers."""
    os.environ.setdefault("OMP_NUM_THREADS", str(FINE_TUNING_THREADS))
    import torch

    torch.set_num_threads(FINE_TUNING_THREADS)
    train_limit, dev_limit = (320, 300) if quick else (None, None)
    return stsb_pairs("train")[:train_limit], stsb_pairs("dev")[:dev_limit]


def reference_training_arguments(arguments_class: type, output: Path) -> object:
    """`FINE_TUNING` as sentence-transformers' training arguments (its bi- and cross-encoder
    argument classes take the same fields), one checkpoint at the end of the epoch."""
    return arguments_class(
        output_dir=str(output),
        num_train_epochs=FINE_TUNING["epochs"],
        per_device_train_batch_size=FINE_TUNING["batch_size"],
        learning_rate=FINE_TUNING["learning_rate"],
        warmup_steps=FINE_TUNING["warmup_ratio"],  # a float below 1 is a ratio in transformers 5
        weight_decay=FINE_TUNING["weight_decay"],
        seed=FINE_TUNING_SEED,
        save_strategy="epoch",
        report_to="none",
        logging_steps=50,
    )


def run_fine_tuning(
    runs: dict[str, Callable[[], dict[str, float]]], ours_first: bool
) -> dict[str, dict[str, float]]:
    """Each trainer's run ("reference" and "ours"), the reference first unless `ours_first`,
    each returning its dev metric `before` and `after` training and the training `seconds`."""
    order = ["ours", "reference"] if ours_first else ["reference", "ours"]
    results = {name: runs[name]() for name in order}
    return {name: results[name] for name in ("reference", "ours")}


def write_fine_tuning(
    title: str,
    args: argparse.Namespace,
    command: str,
    settings: str,
    sizes: tuple[int, int],
    names: tuple[str, str],
    results: dict,
) -> None:
    """The section of a training benchmark: the command (`command` plus the common options in
    `args`), the machine, the (train, dev) `sizes` and `settings`, then the dev metric before
    and after and the training speed of the reference and ours (`names` in that order)."""
    command += (" --quick" if args.quick else "") + (" --ours-first" if args.ours_first else "")
    train_pairs, dev_pairs = sizes
    setup = (
        f"{FINE_TUNING_THREADS} torch threads. {train_pairs} training pairs, STSb dev {dev_pairs} pairs"
        + (" (quick smoke run: subsets, not comparable to a full run)." if args.quick else ".")
        + f"\nSettings: {settings} One untimed warm-up pass first; train s is the wall clock of "
        "`trainer.train()` for each."
    )
    reference, ours = results["reference"], results["ours"]
    rows = [
        [
            name,
            f"{run['before']:.4f}",
            f"{run['after']:.4f}",
            f"{run['seconds']:.1f}",
            f"{train_pairs / run['seconds']:.1f}",
        ]
        for name, run in zip(names, (reference, ours), strict=True)
    ]
    body = "\n".join(
        [
            "```",
            f"flock /tmp/embedtune-bench.lock .venv/bin/python -m {command}",
            "```",
            "",
            f"Machine: {machine()}. {setup}",
            "",
            table(["trainer", "dev Spearman before", "dev Spearman after", "train s", "pairs/s"], rows),
            "",
            f"Spearman difference (ours − reference): {ours['after'] - reference['after']:+.4f}; "
            f"throughput ratio (ours / reference): {reference['seconds'] / ours['seconds']:.2f}×.",
        ]
    )
    write_section(title, body)
    print(body)
