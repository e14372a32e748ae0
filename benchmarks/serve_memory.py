"""Server memory and speed with and without handing each batch's memory back.

    .venv/bin/python -m benchmarks.serve_memory [--passes N] [--quantize]

Runs `embedtune serve` with `--release-batch-memory` (the default) and with
`--no-release-batch-memory` (each ONNX Runtime session keeps its arena), and sends each
the same Embed calls of texts at the model's full sequence length: 16, 64 and 128 texts,
then five more of 128 (every batch as large as `max_batch_tokens` allows). Records the
server's RSS (/proc/PID/status) before the first call and after each once it stops
falling (memory is handed back just after a call's results go out), and the texts/s of
the calls; the two configurations alternate over the passes, and each figure is
the median of its passes.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.common import exported_model, machine, server_thread_flags, table, write_section
from embedtune_server.memory import rss_bytes, settled_rss_bytes

CALL_SIZES = (16, 64, 128, 128, 128, 128, 128, 128)
CORES = 2
CONFIGS = (("released (default)", "--release-batch-memory"), ("kept", "--no-release-batch-memory"))
WORDS = "the a man woman child dog cat plays runs guitar piano river city bank money loan vector".split()


def rss_mb(pid: int) -> float:
    return rss_bytes(pid) / 2**20


def run(folder: Path, flag: str, quantize: bool) -> tuple[list[float], float]:
    """RSS (MB) before the calls and after each, and texts/s over the calls, on a fresh server."""
    from embedtune_client.v1 import embedtune_pb2 as pb
    from embedtune_server.launcher import start_server

    home = Path(tempfile.mkdtemp(prefix="embedtune-memory-")) / "home"
    flags = [flag, *server_thread_flags(CORES), *(["--quantize"] if quantize else [])]
    server = start_server(folder, home, *flags)
    rng = random.Random(0)
    try:
        with server.channel() as channel:
            embed = server.stubs(channel)[0]
            readings = [rss_mb(server.process.pid)]
            seconds = 0.0
            for size in CALL_SIZES:
                texts = [" ".join(rng.choice(WORDS) for _ in range(400)) for _ in range(size)]
                started = time.perf_counter()
                embed.Embed(pb.EmbedRequest(inputs=texts), timeout=600)
                seconds += time.perf_counter() - started
                readings.append(settled_rss_bytes(server.process.pid) / 2**20)
            rate = sum(CALL_SIZES) / seconds
    finally:
        server.stop()
    return readings, rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passes", type=int, default=1)
    parser.add_argument("--quantize", action="store_true", help="serve the int8 graph")
    parser.add_argument("--model", type=Path, help="an exported model version folder (default: export one)")
    args = parser.parse_args()
    folder = exported_model(args.model)

    results: dict[str, list[tuple[list[float], float]]] = {label: [] for label, _ in CONFIGS}
    for p in range(args.passes):
        order = CONFIGS if p % 2 == 0 else CONFIGS[::-1]
        for label, flag in order:
            results[label].append(run(folder, flag, args.quantize))
    rows = []
    medians = {}
    for label, _ in CONFIGS:
        readings = np.median([r for r, _ in results[label]], axis=0)
        rate = float(np.median([rate for _, rate in results[label]]))
        medians[label] = rate
        rows.append(
            [label, f"{readings[0]:.0f}", f"{readings[3]:.0f}", f"{readings[-1]:.0f}", f"{max(readings):.0f}"]
        )
    reference = medians[CONFIGS[1][0]]
    for row, (label, _) in zip(rows, CONFIGS, strict=True):
        row.append(f"{medians[label]:.1f} ({medians[label] / reference:.2f}×)")
    model = "int8" if args.quantize else "fp32"
    body = "\n\n".join(
        [
            f"`.venv/bin/python -m benchmarks.serve_memory --passes {args.passes}"
            f"{' --quantize' if args.quantize else ''}` — the bundled model ({model}), "
            f"`{' '.join(server_thread_flags(CORES))}`, default `--max-batch-tokens`: Embed calls of "
            f"{', '.join(map(str, CALL_SIZES))} texts at the full sequence length. RSS read from "
            f"/proc after each call once it stops falling; speed over the calls (the readings not "
            f"counted), against keeping the memory (the "
            f"behaviour before `--release-batch-memory`). Medians of {args.passes} pass(es). "
            f"Machine: {machine()}.",
            table(
                [
                    "batch memory",
                    "RSS before (MB)",
                    "after the first 128 (MB)",
                    "after the last (MB)",
                    "largest after a call (MB)",
                    "texts/s",
                ],
                rows,
            ),
        ]
    )
    print(body)
    write_section(f"Serving memory ({model})", body)


if __name__ == "__main__":
    main()
