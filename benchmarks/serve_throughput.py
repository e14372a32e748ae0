"""Sentences/s through the gRPC server beside sentence-transformers' in-process `encode`.

    .venv/bin/python -m benchmarks.serve_throughput [--quick] [--passes N]

Runs two real `embedtune serve` child processes (fp32 and int8) on loopback and drives
them with 1, 8 and 32 concurrent clients sending 1-sentence and 32-sentence Embed
requests over the STSb dev sentences. The reference, sentence-transformers encoding
the same sentences in process (batch 32), is one more run in the same passes: every
pass runs the reference and each server configuration once, each pass starting one
run later, and each figure is the median of its passes. This machine's speed drifts by
more than the margins measured here within minutes, so only runs measured side by side
are compared. Server and reference get the same thread budget; the clients share the
machine with the server, so the gRPC figures include the client's own CPU cost.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time
from functools import partial
from pathlib import Path

from benchmarks.common import (
    alternated_medians,
    machine,
    server_thread_flags,
    stsb_sentences,
    table,
    write_section,
)

THREADS = 2
BATCH = 32
CLIENTS = (1, 8, 32)
REQUEST_SIZES = (1, 32)
MODELS = (("fp32", False), ("int8", True))
WARM_UP_SENTENCES = 256


def reference_encoder(folder: Path):
    """sentence-transformers on the exported folder, with the server's thread budget."""
    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(THREADS)
    return SentenceTransformer(str(folder), device="cpu")


def drive(address: str, sentences: list[str], clients: int, request_size: int) -> float:
    """Sentences/s with `clients` threads, each its own channel, sharing the work."""
    import grpc

    from embedtune_client.v1 import embedtune_pb2 as pb
    from embedtune_client.v1 import embedtune_pb2_grpc as pb_grpc

    requests = [sentences[i : i + request_size] for i in range(0, len(sentences), request_size)]
    cursor = iter(range(len(requests)))
    lock = threading.Lock()
    errors: list[BaseException] = []

    def client() -> None:
        with grpc.insecure_channel(address) as channel:
            stub = pb_grpc.EmbedServiceStub(channel)
            while True:
                with lock:
                    i = next(cursor, None)
                if i is None:
                    return
                try:
                    stub.Embed(pb.EmbedRequest(inputs=requests[i]), timeout=300)
                except grpc.RpcError as error:
                    errors.append(error)
                    return

    threads = [threading.Thread(target=client) for _ in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    if errors:
        raise RuntimeError(f"{len(errors)} requests failed, first: {errors[0]}")
    return len(sentences) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="256 sentences, one pass: a smoke run")
    parser.add_argument("--passes", type=int, default=3)
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", str(THREADS))
    from embedtune_server.launcher import start_server
    from embedtune_trainer.export import export_model_folder

    sentences = stsb_sentences("dev")
    if args.quick:
        sentences, args.passes = sentences[:256], 1
    folder = Path(tempfile.mkdtemp(prefix="embedtune-bench-")) / "model"
    export_model_folder("default", output=folder, quantize=True)

    reference = reference_encoder(folder)
    reference.encode(sentences[:WARM_UP_SENTENCES], batch_size=BATCH)
    servers = {}
    try:
        for label, quantize in MODELS:
            flags = ["--quantize"] if quantize else []
            home = Path(tempfile.mkdtemp(prefix=f"embedtune-bench-{label}-"))
            servers[label] = start_server(
                folder, home, *flags, *server_thread_flags(THREADS), "--max-concurrent-requests", "4096"
            )
            drive(servers[label].address, sentences[:WARM_UP_SENTENCES], 8, BATCH)
        configs = [(label, c, size) for label in servers for c in CLIENTS for size in REQUEST_SIZES]
        runs = [partial(reference.encode, sentences, batch_size=BATCH)]
        runs += [partial(drive, servers[label].address, sentences, c, size) for label, c, size in configs]
        seconds = alternated_medians(runs, args.passes, warm_up=False)
    finally:
        for server in servers.values():
            server.stop()

    reference_rate = len(sentences) / seconds[0]
    print(f"sentence-transformers encode (batch {BATCH}): {reference_rate:.1f} sentences/s")
    rows = []
    for (label, clients, size), run_seconds in zip(configs, seconds[1:], strict=True):
        rate = len(sentences) / run_seconds
        ratio = rate / reference_rate
        rows.append([label, clients, size, f"{rate:.0f}", f"{ratio:.2f}×"])
        print(f"gRPC {label} clients={clients:2d} sentences/request={size:2d}: {rate:7.1f}/s {ratio:.2f}×")
    if args.quick:
        return
    flags = " ".join(server_thread_flags(THREADS))
    body = "\n\n".join(
        [
            f"`.venv/bin/python -m benchmarks.serve_throughput` — {len(sentences)} STSb dev sentences "
            f"through `embedtune serve` on loopback (its default on {THREADS} cores: `{flags}`), against "
            f"sentence-transformers `encode` in process (batch {BATCH}, {THREADS} torch threads): "
            f"**{reference_rate:.0f} sentences/s**. The reference and every row run once per pass, "
            f"passes alternated (each starting one run later); medians of {args.passes} passes. "
            f"Clients run on the same machine. Machine: {machine()}.",
            table(["model", "concurrent clients", "sentences/request", "sentences/s", "vs reference"], rows),
            "Targets: int8 ≥ 2.5×, fp32 ≥ 1.2× the reference (with batched requests).",
        ]
    )
    write_section("Serving throughput (gRPC)", body)


if __name__ == "__main__":
    main()
