"""Latency of the gRPC server: one-sentence Embed, Search over a large index, bulk indexing.

    .venv/bin/python -m benchmarks.serve_latency [--quick] [--documents N]

Against a real `embedtune serve` child process (fp32) on loopback, one client at a time:

1. p50/p99 of a one-sentence Embed on an idle server;
2. bulk indexing: `--documents` synthetic texts (6-14 words drawn from STSb at their
   own frequencies, so about as long as STSb sentences; default 100,000) through
   Upsert, 256 per request, 4 concurrent clients: documents/s;
3. p50/p99 of Search (k=10) by text (embedding included) and by vector (index only)
   with the exact `Flat` index;
4. the same server restarted with `--index-factory HNSW32`: it rebuilds the index from
   the stored embeddings, no re-embedding (the bulk path for a new index type), and
   the same searches run again, with recall@10 against Flat.
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from benchmarks.common import machine, server_thread_flags, stsb_sentences, table, write_section

THREADS = 2
UPSERT_BATCH = 256
INDEXING_CLIENTS = 4
K = 10


def synthetic_texts(count: int, seed: int = 0) -> list[str]:
    """Sentence-length texts drawn from STSb's words at their own frequencies (mostly common words)."""
    words = [w.strip(".,!?;:\"'()").lower() for s in stsb_sentences("train") for w in s.split()]
    words = [w for w in words if w]
    rng = random.Random(seed)
    return [" ".join(rng.choices(words, k=rng.randint(6, 14))) for _ in range(count)]


def percentiles_ms(samples: list[float]) -> tuple[str, str]:
    p50, p99 = np.percentile(np.array(samples) * 1000, [50, 99])
    return f"{p50:.2f}", f"{p99:.2f}"


def timed_calls(call, requests) -> list[float]:
    latencies = []
    for request in requests:
        start = time.perf_counter()
        call(request, timeout=60)
        latencies.append(time.perf_counter() - start)
    return latencies


def bulk_index(address: str, texts: list[str]) -> float:
    """Documents/s through Upsert with a few concurrent clients."""
    import grpc
    from tqdm import tqdm

    from embedtune_client.v1 import embedtune_pb2 as pb
    from embedtune_client.v1 import embedtune_pb2_grpc as pb_grpc

    batches = iter(range(0, len(texts), UPSERT_BATCH))
    lock = threading.Lock()
    bar = tqdm(total=len(texts), desc="indexing", unit="doc")

    def client() -> None:
        with grpc.insecure_channel(address) as channel:
            stub = pb_grpc.IndexServiceStub(channel)
            while True:
                with lock:
                    start = next(batches, None)
                if start is None:
                    return
                chunk = texts[start : start + UPSERT_BATCH]
                documents = [pb.Document(id=f"doc-{start + i}", text=t) for i, t in enumerate(chunk)]
                stub.Upsert(pb.UpsertRequest(documents=documents), timeout=600)
                bar.update(len(chunk))

    threads = [threading.Thread(target=client) for _ in range(INDEXING_CLIENTS)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    bar.close()
    return len(texts) / (time.perf_counter() - started)


def search_latencies(address: str, queries: list[str], vectors: np.ndarray) -> dict[str, object]:
    import grpc

    from embedtune_client.v1 import embedtune_pb2 as pb
    from embedtune_client.v1 import embedtune_pb2_grpc as pb_grpc

    with grpc.insecure_channel(address) as channel:
        index = pb_grpc.IndexServiceStub(channel)
        by_text = timed_calls(index.Search, [pb.SearchRequest(text=q, k=K) for q in queries])
        vector_requests = [pb.SearchRequest(vector=pb.Embedding(values=v), k=K) for v in vectors.tolist()]
        by_vector = timed_calls(index.Search, vector_requests)
        hits = [[h.id for h in index.Search(r, timeout=60).hits] for r in vector_requests]
    return {"text": percentiles_ms(by_text), "vector": percentiles_ms(by_vector), "hits": hits}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3,000 documents, 50 requests each: a smoke run")
    parser.add_argument("--documents", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=500)
    args = parser.parse_args()
    if args.quick:
        args.documents, args.requests = 3_000, 50
    os.environ.setdefault("OMP_NUM_THREADS", str(THREADS))
    import grpc

    from embedtune_client.v1 import embedtune_pb2 as pb
    from embedtune_client.v1 import embedtune_pb2_grpc as pb_grpc
    from embedtune_server.launcher import start_server
    from embedtune_trainer.export import export_model_folder

    folder = Path(tempfile.mkdtemp(prefix="embedtune-bench-")) / "model"
    export_model_folder("default", output=folder, quantize=True)
    home = Path(tempfile.mkdtemp(prefix="embedtune-bench-home-"))
    sentences = stsb_sentences("dev")
    queries = sentences[: args.requests]
    texts = synthetic_texts(args.documents)
    common = ("--max-client-batch-size", str(UPSERT_BATCH), *server_thread_flags(THREADS))

    server = start_server(folder, home, *common)
    try:
        with grpc.insecure_channel(server.address) as channel:
            embed = pb_grpc.EmbedServiceStub(channel)
            timed_calls(embed.Embed, [pb.EmbedRequest(inputs=[s]) for s in sentences[-20:]])  # warm-up
            embed_latency = percentiles_ms(
                timed_calls(embed.Embed, [pb.EmbedRequest(inputs=[q]) for q in queries])
            )
            response = embed.Embed(pb.EmbedRequest(inputs=queries[:UPSERT_BATCH]), timeout=60)
            vectors = np.array([e.values for e in response.embeddings], dtype=np.float32)
        print(f"Embed, one sentence, idle server: p50/p99 {embed_latency} ms")
        indexing_rate = bulk_index(server.address, texts)
        print(f"bulk indexing: {indexing_rate:.0f} documents/s")
        flat = search_latencies(server.address, queries[: len(vectors)], vectors)
        print(f"Search Flat: text {flat['text']} ms, vector {flat['vector']} ms")
    finally:
        server.stop(timeout=600)

    started = time.perf_counter()
    server = start_server(folder, home, *common, "--index-factory", "HNSW32", timeout=3600)
    rebuild_s = time.perf_counter() - started
    try:
        hnsw = search_latencies(server.address, queries[: len(vectors)], vectors)
    finally:
        server.stop(timeout=600)
    recall = np.mean([len(set(a) & set(b)) / K for a, b in zip(flat["hits"], hnsw["hits"], strict=True)])
    print(f"Search HNSW32: text {hnsw['text']} ms, vector {hnsw['vector']} ms, recall@{K} {recall:.3f}")
    print(f"restart with HNSW32 (index rebuilt from stored embeddings): {rebuild_s:.1f} s")
    if args.quick:
        return
    rows = [
        ["Embed, 1 sentence, idle", "—", *embed_latency],
        ["Search by text (embed + search), Flat", args.documents, *flat["text"]],
        ["Search by vector, Flat", args.documents, *flat["vector"]],
        ["Search by text (embed + search), HNSW32", args.documents, *hnsw["text"]],
        ["Search by vector, HNSW32", args.documents, *hnsw["vector"]],
    ]
    flags = " ".join(server_thread_flags(THREADS))
    body = "\n\n".join(
        [
            "`.venv/bin/python -m benchmarks.serve_latency` — `embedtune serve` "
            f"(fp32, its default on {THREADS} cores: `{flags}`) on loopback, one client, "
            f"{args.requests} sequential requests per row, k={K}. "
            f"Machine: {machine()}.",
            table(["request", "documents", "p50 ms", "p99 ms"], rows),
            f"Bulk indexing through Upsert ({UPSERT_BATCH} documents per request, "
            f"{INDEXING_CLIENTS} clients): **{indexing_rate:.0f} documents/s**. Restarting with "
            f"`--index-factory HNSW32` rebuilt the index from the stored embeddings in {rebuild_s:.1f} s "
            f"(process start included); HNSW32 recall@{K} against Flat: {recall:.3f}.",
        ]
    )
    write_section("Serving latency (gRPC)", body)


if __name__ == "__main__":
    main()
