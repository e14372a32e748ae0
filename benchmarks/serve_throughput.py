"""Sentences/s through the gRPC server beside sentence-transformers' in-process `encode`.

    .venv/bin/python -m benchmarks.serve_throughput [--quick]

Runs a real `embedtune serve` child process (fp32, then int8) on loopback and drives
it with 1, 8 and 32 concurrent clients sending 1-sentence and 32-sentence Embed
requests over the STSb dev sentences. The reference, sentence-transformers encoding
the same sentences in process (batch 32), is measured in the same run. Server and
reference get the same thread budget; the clients share the machine with the server,
so the gRPC figures include the client's own CPU cost.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time
from pathlib import Path

from benchmarks.common import machine, server_thread_flags, stsb_sentences, table, write_section

THREADS = 2
BATCH = 32
CLIENTS = (1, 8, 32)
REQUEST_SIZES = (1, 32)
MODELS = (("fp32", False), ("int8", True))


def reference_rate(folder: Path, sentences: list[str], repeats: int) -> float:
    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(THREADS)
    model = SentenceTransformer(str(folder), device="cpu")
    model.encode(sentences[:64], batch_size=BATCH)
    best = min(_timed(lambda: model.encode(sentences, batch_size=BATCH)) for _ in range(repeats))
    return len(sentences) / best


def _timed(run) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


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


def server_rates(
    folder: Path, sentences: list[str], quantize: bool, repeats: int
) -> dict[tuple[int, int], float]:
    from embedtune_server.launcher import start_server

    flags = ["--quantize"] if quantize else []
    home = Path(tempfile.mkdtemp(prefix="embedtune-bench-home-"))
    server = start_server(
        folder, home, *flags, *server_thread_flags(THREADS), "--max-concurrent-requests", "4096"
    )
    try:
        drive(server.address, sentences[:256], 8, 32)  # warm-up
        return {
            (clients, size): max(drive(server.address, sentences, clients, size) for _ in range(repeats))
            for clients in CLIENTS
            for size in REQUEST_SIZES
        }
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="256 sentences, one pass: a smoke run")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", str(THREADS))
    from embedtune_trainer.export import export_model_folder

    sentences = stsb_sentences("dev")
    if args.quick:
        sentences, args.repeats = sentences[:256], 1
    folder = Path(tempfile.mkdtemp(prefix="embedtune-bench-")) / "model"
    export_model_folder("default", output=folder, quantize=True)

    # The reference runs before, between and after the two servers, and each server is
    # compared with the better of the passes just before and just after it: a slow spell
    # of the machine during the reference's turn cannot flatter the ratios, and a server
    # is not compared with a reference measured minutes away from it.
    references = [reference_rate(folder, sentences, args.repeats)]
    rates = {}
    for label, quantize in MODELS:
        rates[label] = server_rates(folder, sentences, quantize, args.repeats)
        references.append(reference_rate(folder, sentences, args.repeats))
    reference = {label: max(references[i : i + 2]) for i, label in enumerate(rates)}
    rows = []
    for label, by_load in rates.items():
        print(f"sentence-transformers encode around {label}: {reference[label]:.1f} sentences/s")
        for (clients, size), rate in by_load.items():
            ratio = rate / reference[label]
            rows.append([label, clients, size, f"{rate:.0f}", f"{ratio:.2f}×"])
            print(
                f"gRPC {label} clients={clients:2d} sentences/request={size:2d}: {rate:7.1f}/s {ratio:.2f}×"
            )
    if args.quick:
        return
    flags = " ".join(server_thread_flags(THREADS))
    body = "\n\n".join(
        [
            f"`.venv/bin/python -m benchmarks.serve_throughput` — {len(sentences)} STSb dev sentences "
            "through "
            f"`embedtune serve` on loopback (its default on {THREADS} cores: `{flags}`), "
            f"best of {args.repeats} passes, "
            f"against sentence-transformers `encode` in process (batch {BATCH}, {THREADS} torch threads), "
            "measured before, between and after the servers; each server is compared with the better "
            "of the reference passes just before and just after it: "
            + ", ".join(f"**{rate:.0f} sentences/s** around {label}" for label, rate in reference.items())
            + ". "
            f"Clients run on the same machine. Machine: {machine()}.",
            table(["model", "concurrent clients", "sentences/request", "sentences/s", "vs reference"], rows),
            "Targets: int8 ≥ 2.5×, fp32 ≥ 1.2× the reference (with batched requests).",
        ]
    )
    write_section("Serving throughput (gRPC)", body)


if __name__ == "__main__":
    main()
