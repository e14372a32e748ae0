"""Sentences/s through the server, gRPC and HTTP, beside sentence-transformers' in-process `encode`.

    flock /tmp/embedtune-bench.lock .venv/bin/python -m benchmarks.serve_throughput [--quick] [--passes N] \\
        [--infinity-url URL [--infinity-pid PID]]

Runs two real `embedtune serve --http-port 0` child processes (fp32 and int8) on loopback
and drives them with 1, 8 and 32 concurrent clients sending 1-sentence and 32-sentence
Embed requests over the STSb dev sentences, and with 8 and 32 clients sending 32-sentence
`POST /v1/embeddings` requests over HTTP. The reference, sentence-transformers encoding
the same sentences in process (batch 32), is one more run in the same passes: every
pass runs the reference and each configuration once, each pass starting one run later,
and each figure is the median of its passes. This machine's speed drifts by more than
the margins measured here within minutes, so only runs measured side by side are
compared. Server and reference get the same thread budget; the clients share the
machine with the server, so the figures include the client's own CPU cost.

The HTTP clients are threads with one `httpx.Client` each, made once before the passes
(the library the `openai` package is built on, without its response models), asking for
`encoding_format=base64` as the `openai` client does by default and decoding each vector
with numpy, as it does.
With `--infinity-url` (an `infinity_emb v2` server of the same model), its
`/embeddings` gets the same HTTP rows in the same passes. One-sentence latency is
measured after the passes: sequential requests, gRPC and HTTP alternated one by one.

Every row also gets the CPU milliseconds per sentence spent by the server process and
by this process (the clients), read from /proc around each run: on a machine the
clients share, they tell a slower server from a heavier client. Pass `--infinity-pid`
for infinity's server share.
"""

from __future__ import annotations

import argparse
import base64
import os
import threading
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np

from benchmarks.common import (
    CpuMeter,
    alternated_medians,
    drive_grpc,
    exported_model,
    machine,
    run_threads,
    server_thread_flags,
    start_bench_server,
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
HTTP_CLIENTS = (8, 32)
LATENCY_REQUESTS = 300
PASSES = 3


CPU_HEADER = ["server CPU ms/sentence", "client CPU ms/sentence"]


def _cpu_cells(cpu: tuple[float, float]) -> list[str]:
    """The two CPU columns; a server whose process id was not given shows a dash."""
    server, client = cpu
    return ["—" if np.isnan(server) else f"{server:.2f}", f"{client:.2f}"]


def reference_encoder(folder: Path):
    """sentence-transformers on the exported folder, with the server's thread budget."""
    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(THREADS)
    return SentenceTransformer(str(folder), device="cpu")


def drive(address: str, sentences: list[str], clients: int, request_size: int) -> float:
    """Sentences/s with `clients` threads, each its own channel, sharing the work."""
    requests = [sentences[i : i + request_size] for i in range(0, len(sentences), request_size)]
    return len(sentences) / drive_grpc(address, requests, clients, _embed_sender)


def _embed_sender(channel) -> Callable[[list[str]], object]:
    from embedtune_client.v1 import embedtune_pb2 as pb
    from embedtune_client.v1 import embedtune_pb2_grpc as pb_grpc

    stub = pb_grpc.EmbedServiceStub(channel)
    return lambda inputs: stub.Embed(pb.EmbedRequest(inputs=inputs), timeout=300)


def _decode(data: list[dict]) -> np.ndarray:
    """What the `openai` client does with a base64 answer."""
    return np.stack([np.frombuffer(base64.b64decode(d["embedding"]), dtype=np.float32) for d in data])


def http_clients(url: str, clients: int) -> list:
    """`clients` `httpx.Client`s on `url`, made once before the passes, as an application makes its
    client once: each loads a CA bundle, a cost of setup, not of a request."""
    import httpx

    return [httpx.Client(base_url=url, timeout=300) for _ in range(clients)]


def drive_http(pool: list, model: str, sentences: list[str], request_size: int) -> float:
    """Sentences/s through `POST /embeddings`, one thread per client of `pool` sharing the work."""
    import httpx

    requests = [sentences[i : i + request_size] for i in range(0, len(sentences), request_size)]
    cursor = iter(range(len(requests)))
    lock = threading.Lock()
    errors: list[str] = []

    def client(http: httpx.Client) -> None:
        while True:
            with lock:
                i = next(cursor, None)
            if i is None:
                return
            body = {"model": model, "input": requests[i], "encoding_format": "base64"}
            response = http.post("/embeddings", json=body)
            if response.status_code != 200:
                errors.append(response.text)
                return
            _decode(response.json()["data"])

    elapsed = run_threads([partial(client, http) for http in pool])
    if errors:
        raise RuntimeError(f"{len(errors)} requests failed, first: {errors[0]}")
    return len(sentences) / elapsed


def one_sentence_latency(
    address: str, http_url: str, model: str, sentences: list[str]
) -> dict[str, tuple[float, float]]:
    """p50 and p99 ms of sequential one-sentence requests, gRPC and HTTP alternated one by one."""
    import grpc
    import httpx

    from embedtune_client.v1 import embedtune_pb2 as pb
    from embedtune_client.v1 import embedtune_pb2_grpc as pb_grpc

    seconds: dict[str, list[float]] = {"gRPC Embed": [], "HTTP /v1/embeddings": []}
    with grpc.insecure_channel(address) as channel, httpx.Client(base_url=http_url, timeout=60) as http:
        stub = pb_grpc.EmbedServiceStub(channel)
        calls = {
            "gRPC Embed": lambda text: stub.Embed(pb.EmbedRequest(inputs=[text]), timeout=60),
            "HTTP /v1/embeddings": lambda text: _decode(
                http.post("/embeddings", json={"model": model, "input": [text], "encoding_format": "base64"})
                .raise_for_status()
                .json()["data"]
            ),
        }
        for i in range(LATENCY_REQUESTS):
            for name, call in calls.items():
                start = time.perf_counter()
                call(sentences[i % len(sentences)])
                seconds[name].append(time.perf_counter() - start)
    return {
        name: tuple(float(v) for v in np.percentile(np.array(s) * 1000, [50, 99]))
        for name, s in seconds.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="256 sentences, one pass: a smoke run")
    parser.add_argument("--passes", type=int, default=PASSES)
    parser.add_argument(
        "--infinity-url",
        help="base URL of an infinity_emb server of the same model, e.g. http://127.0.0.1:7997",
    )
    parser.add_argument("--infinity-model", default="minilm", help="its --served-model-name")
    parser.add_argument("--infinity-pid", type=int, help="its process id, for its CPU per sentence")
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", str(THREADS))

    sentences = stsb_sentences("dev")
    if args.quick:
        sentences, args.passes = sentences[:256], 1
    folder = exported_model(None)

    reference = reference_encoder(folder)
    reference.encode(sentences[:WARM_UP_SENTENCES], batch_size=BATCH)
    servers = {}
    pools: dict[tuple[str, int], list] = {}
    try:
        for label, quantize in MODELS:
            flags = ["--quantize"] if quantize else []
            servers[label] = start_bench_server(folder, label, THREADS, *flags, "--http-port", "0")
            drive(servers[label].address, sentences[:WARM_UP_SENTENCES], 8, BATCH)
        served = folder.name  # `model` names the served model: its folder's name
        http_targets = {f"{label} HTTP": (f"{s.http_url}/v1", served) for label, s in servers.items()}
        pids = {f"{label} HTTP": s.process.pid for label, s in servers.items()}
        if args.infinity_url:
            http_targets["infinity int8 HTTP"] = (args.infinity_url, args.infinity_model)
            pids["infinity int8 HTTP"] = args.infinity_pid
        configs = [(label, c, size) for label in servers for c in CLIENTS for size in REQUEST_SIZES]
        http_configs = [(target, c) for target in http_targets for c in HTTP_CLIENTS]
        for target, c in http_configs:
            pools[target, c] = http_clients(http_targets[target][0], c)
            drive_http(pools[target, c], http_targets[target][1], sentences[:WARM_UP_SENTENCES], BATCH)
        meter = CpuMeter()
        runs = [meter.metered("reference", partial(reference.encode, sentences, batch_size=BATCH), None)]
        runs += [
            meter.metered(
                config,
                partial(drive, servers[config[0]].address, sentences, *config[1:]),
                servers[config[0]].process.pid,
            )
            for config in configs
        ]
        runs += [
            meter.metered(
                config,
                partial(drive_http, pools[config], http_targets[config[0]][1], sentences, BATCH),
                pids[config[0]],
            )
            for config in http_configs
        ]
        seconds = alternated_medians(runs, args.passes, warm_up=False)
        latency = {
            label: one_sentence_latency(s.address, f"{s.http_url}/v1", served, sentences)
            for label, s in servers.items()
        }
    finally:
        for http in (http for pool in pools.values() for http in pool):
            http.close()
        for server in servers.values():
            server.stop()

    reference_rate = len(sentences) / seconds[0]
    reference_cpu = meter.per_item_ms("reference", len(sentences))[1]
    print(
        f"sentence-transformers encode (batch {BATCH}): {reference_rate:.1f} sentences/s, "
        f"{reference_cpu:.2f} ms CPU each"
    )
    rows = []
    grpc_rates = {}
    for (label, clients, size), run_seconds in zip(configs, seconds[1 : 1 + len(configs)], strict=True):
        rate = grpc_rates[label, clients, size] = len(sentences) / run_seconds
        ratio = rate / reference_rate
        cpu = meter.per_item_ms((label, clients, size), len(sentences))
        rows.append([label, clients, size, f"{rate:.0f}", f"{ratio:.2f}×", *_cpu_cells(cpu)])
        print(
            f"gRPC {label} clients={clients:2d} sentences/request={size:2d}: "
            f"{rate:7.1f}/s {ratio:.2f}× CPU {cpu}"
        )
    http_rows = []
    http_rates = {}
    for (target, clients), run_seconds in zip(http_configs, seconds[1 + len(configs) :], strict=True):
        rate = http_rates[target, clients] = len(sentences) / run_seconds
        model = target.split()[-2]  # "int8 HTTP" and "infinity int8 HTTP" compare with gRPC int8
        versus = rate / grpc_rates[model, clients, BATCH]
        cpu = meter.per_item_ms((target, clients), len(sentences))
        http_rows.append(
            [target, clients, BATCH, f"{rate:.0f}", f"{versus:.2f}× gRPC {model}", *_cpu_cells(cpu)]
        )
        print(f"{target} clients={clients:2d}: {rate:7.1f}/s, {versus:.2f}× gRPC {model}, CPU {cpu}")
    versus_infinity = [
        f"{c} clients: int8 over HTTP {ours / http_rates['infinity int8 HTTP', c]:.2f}× infinity"
        for (target, c), ours in http_rates.items()
        if target == "int8 HTTP" and ("infinity int8 HTTP", c) in http_rates
    ]
    print(*versus_infinity, sep="\n")
    latency_rows = []
    for label, by_protocol in latency.items():
        for protocol, (p50, p99) in by_protocol.items():
            latency_rows.append([label, protocol, f"{p50:.2f}", f"{p99:.2f}"])
            print(f"{label} {protocol} one sentence: p50 {p50:.2f} ms, p99 {p99:.2f} ms")
    if args.quick:
        return
    flags = " ".join(server_thread_flags(THREADS))
    command = "flock /tmp/embedtune-bench.lock .venv/bin/python -m benchmarks.serve_throughput"
    if args.passes != PASSES:
        command += f" --passes {args.passes}"
    if args.infinity_url:
        command += f" --infinity-url {args.infinity_url}"
        if args.infinity_pid:
            command += " --infinity-pid $(pgrep -f 'infinity_emb v2')"
    body = "\n\n".join(
        [
            f"`{command}` — {len(sentences)} STSb dev sentences "
            f"through `embedtune serve` on loopback (its default on {THREADS} cores: `{flags}`), against "
            f"sentence-transformers `encode` in process (batch {BATCH}, {THREADS} torch threads): "
            f"**{reference_rate:.0f} sentences/s**. The reference and every row run once per pass, "
            f"passes alternated (each starting one run later); medians of {args.passes} passes. "
            f"Clients run on the same machine. Machine: {machine()}. CPU columns: milliseconds of CPU per "
            "sentence spent by the server process and by the benchmark process (its clients), read from "
            f"/proc around each run; the reference spends {reference_cpu:.2f} ms per sentence in process.",
            table(
                [
                    "model",
                    "concurrent clients",
                    "sentences/request",
                    "sentences/s",
                    "vs reference",
                    *CPU_HEADER,
                ],
                rows,
            ),
            "Targets: int8 ≥ 2.5×, fp32 ≥ 1.2× the reference (with batched requests).",
        ]
    )
    write_section("Serving throughput (gRPC)", body)
    http_body = "\n\n".join(
        [
            f'`{command}` — the same run as "Serving throughput (gRPC)": the same servers and passes. '
            f"`POST /v1/embeddings`, {BATCH} sentences per request, `encoding_format=base64` decoded with "
            "numpy (what the `openai` client asks for and does by default); clients are threads with one "
            "`httpx.Client` each, made once before the passes (as an application makes its client once), "
            "on the same machine. The `vs gRPC` column divides by the gRPC row of the same "
            "model, clients and request size, measured in the same passes."
            + (
                " infinity: `infinity_emb v2 --engine optimum --device cpu --onnx-disable-optimize` serving "
                "the bundled model with embedtune's own int8 graph (`model_qint8.onnx` as "
                "`model_quantized.onnx`, which infinity picks on CPU), default batch size and threads."
                if args.infinity_url
                else ""
            ),
            table(
                ["server", "concurrent clients", "sentences/request", "sentences/s", "vs gRPC", *CPU_HEADER],
                http_rows,
            ),
            f"One sentence per request, one client, {LATENCY_REQUESTS} requests per protocol alternated one "
            "by one on an idle server (after the passes):",
            table(["model", "request", "p50 ms", "p99 ms"], latency_rows),
            *(["In the same passes: " + "; ".join(versus_infinity) + "."] if versus_infinity else []),
            "Targets: HTTP ≥ 0.9× gRPC throughput; ≥ 1.5× infinity's `/embeddings` on the same model.",
        ]
    )
    write_section("Serving throughput (HTTP)", http_body)


if __name__ == "__main__":
    main()
