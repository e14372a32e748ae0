"""Pairs/s through the Rerank RPC, beside sentence-transformers' in-process `CrossEncoder.predict`.

    flock /tmp/embedtune-bench.lock .venv/bin/python -m benchmarks.rerank_throughput \\
        --cross-encoder models/ce-stsb [--quick] [--passes N]

Runs two real `embedtune serve --cross-encoder DIR` child processes (the folder's fp32
graph, and its int8 graph with `--cross-encoder-quantize`) on loopback and drives them
with 1 and 8 concurrent clients, each Rerank request one STSb dev sentence against the
next CANDIDATES sentences. The reference, `CrossEncoder.predict` on the same folder in
process over all the same pairs in one call (batch CANDIDATES; it sorts the pairs by
length first, so its batches pad less than one request's candidates would),
is one more run in the same passes, as in `benchmarks.serve_throughput`: passes
alternated, medians reported. Server and reference get the same thread budget; the
clients share the machine with the server, so the figures include their CPU cost.
Other load hurts the reference's torch threads more than the server's one-thread
sessions, so compare runs made on a machine equally busy.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np

from benchmarks.common import (
    REPO,
    alternated_medians,
    drive_grpc,
    exported_model,
    machine,
    server_thread_flags,
    start_bench_server,
    stsb_sentences,
    table,
    write_section,
)

THREADS = 2
CANDIDATES = 32
REQUESTS = 64
CLIENTS = (1, 8)
MODELS = (("fp32", False), ("int8", True))
WARM_UP_REQUESTS = 8

RerankList = tuple[str, list[str]]


def rerank_lists(sentences: list[str], count: int) -> list[RerankList]:
    """`count` (query, candidates) lists: each query a sentence, its candidates the next CANDIDATES."""
    lists = []
    for i in range(count):
        start = count + i * CANDIDATES
        lists.append((sentences[i], sentences[start : start + CANDIDATES]))
    if len(lists[-1][1]) < CANDIDATES:
        raise SystemExit(f"{count} lists of {CANDIDATES} candidates need more sentences than STSb dev has")
    return lists


def reference_cross_encoder(folder: Path):
    """sentence-transformers' CrossEncoder on the same folder, with the server's thread budget."""
    import torch
    from sentence_transformers import CrossEncoder

    torch.set_num_threads(THREADS)
    return CrossEncoder(str(folder), device="cpu")


def predict(model, lists: list[RerankList]) -> np.ndarray:
    """The reference's scores of every (query, candidate) pair, in one call (it batches by length)."""
    pairs = [(query, text) for query, texts in lists for text in texts]
    return model.predict(pairs, batch_size=CANDIDATES, show_progress_bar=False)


def _rerank_sender(channel) -> Callable[[RerankList], object]:
    from embedtune_client.v1 import embedtune_pb2 as pb
    from embedtune_client.v1 import embedtune_pb2_grpc as pb_grpc

    stub = pb_grpc.EmbedServiceStub(channel)

    def send(item: RerankList):
        query, texts = item
        candidates = [pb.TextRef(text=t) for t in texts]
        return stub.Rerank(pb.RerankRequest(query=query, candidates=candidates), timeout=300)

    return send


def drive(address: str, lists: list[RerankList], clients: int) -> float:
    """Pairs/s with `clients` threads, each its own channel, sharing the lists."""
    pairs = sum(len(texts) for _, texts in lists)
    return pairs / drive_grpc(address, lists, clients, _rerank_sender)


def served_scores(address: str, item: RerankList) -> np.ndarray:
    """One list's scores from the server, in candidate order."""
    import grpc

    with grpc.insecure_channel(address) as channel:
        response = _rerank_sender(channel)(item)
    scores = np.zeros(len(item[1]), dtype=np.float32)
    for result in response.results:
        scores[result.index] = result.score
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--cross-encoder", type=Path, required=True, help="a CrossEncoder folder exported with onnx/"
    )
    parser.add_argument("--quick", action="store_true", help="8 lists, one pass: a smoke run")
    parser.add_argument("--passes", type=int, default=3)
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", str(THREADS))

    lists = rerank_lists(stsb_sentences("dev"), 8 if args.quick else REQUESTS)
    if args.quick:
        args.passes = 1
    pairs = len(lists) * CANDIDATES
    bi_encoder = exported_model(None)  # the server needs one; Rerank never uses it

    reference = reference_cross_encoder(args.cross_encoder)
    expected = predict(reference, lists[:WARM_UP_REQUESTS])
    servers = {}
    agreement = {}
    try:
        for label, quantize in MODELS:
            flags = ["--cross-encoder-quantize"] if quantize else []
            cross_encoder = ("--cross-encoder", str(args.cross_encoder), *flags)
            servers[label] = start_bench_server(bi_encoder, f"rerank-{label}", THREADS, *cross_encoder)
            drive(servers[label].address, lists[:WARM_UP_REQUESTS], 8)
            agreement[label] = float(
                np.abs(served_scores(servers[label].address, lists[0]) - expected[:CANDIDATES]).max()
            )
        configs = [(label, c) for label in servers for c in CLIENTS]
        runs = [partial(predict, reference, lists)]
        runs += [partial(drive, servers[label].address, lists, c) for label, c in configs]
        seconds = alternated_medians(runs, args.passes, warm_up=False)
    finally:
        for server in servers.values():
            server.stop()

    reference_rate = pairs / seconds[0]
    print(f"sentence-transformers CrossEncoder.predict (batch {CANDIDATES}): {reference_rate:.1f} pairs/s")
    rows = []
    for (label, clients), run_seconds in zip(configs, seconds[1:], strict=True):
        rate = pairs / run_seconds
        ratio = rate / reference_rate
        rows.append([label, clients, CANDIDATES, f"{rate:.0f}", f"{ratio:.2f}×"])
        print(f"Rerank {label} clients={clients}: {rate:7.1f} pairs/s {ratio:.2f}×")
    for label, difference in agreement.items():
        print(f"{label}: largest |served - CrossEncoder.predict| on one list: {difference:.2g}")
    if args.quick:
        return
    folder = args.cross_encoder.resolve()
    shown = folder.relative_to(REPO) if folder.is_relative_to(REPO) else args.cross_encoder
    flags = " ".join(server_thread_flags(THREADS))
    command = (
        "flock /tmp/embedtune-bench.lock .venv/bin/python -m benchmarks.rerank_throughput "
        f"--cross-encoder {shown}"
    )
    body = "\n\n".join(
        [
            f"`{command}` — {len(lists)} Rerank requests, each one STSb dev sentence against the next "
            f"{CANDIDATES} ({pairs} pairs), through `embedtune serve --cross-encoder` on loopback (its "
            f"default on {THREADS} cores: `{flags}`), against sentence-transformers "
            f"`CrossEncoder.predict` on the same folder in process over the same pairs (batch "
            f"{CANDIDATES}, all pairs in one call: it sorts them by length, {THREADS} torch threads): "
            f"**{reference_rate:.0f} pairs/s**. The reference and every row run once per pass, passes "
            f"alternated (each starting one run later); medians of {args.passes} passes. Clients run on "
            f"the same machine. Machine: {machine()}.",
            table(["model", "concurrent clients", "candidates/request", "pairs/s", "vs reference"], rows),
            "Largest difference between a served score and `CrossEncoder.predict`'s on one list: "
            + ", ".join(f"{label} {difference:.1g}" for label, difference in agreement.items())
            + ".",
            "The reference's torch threads lose more to other load on a shared machine than the "
            "server's one-thread sessions do, so on a busy machine the ratios come out higher than on a "
            "quiet one. Target: int8 ≥ 1.5× the reference.",
        ]
    )
    write_section("Rerank throughput", body)


if __name__ == "__main__":
    main()
