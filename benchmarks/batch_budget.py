"""Speed by token budget per batch (`--max-batch-tokens`): why the server's default is small on CPU.

    .venv/bin/python -m benchmarks.batch_budget [--passes N] [--quick]

Replays the server's batch cutter (benchmarks/batch_plans.py) on a saturated queue for
each budget, then times the batches on the server's backend (2 one-thread streams, its
layout on 2 cores), fp32 and int8 graphs. Two traffics: STSb dev sentences (8 clients ×
32-sentence requests) and SciFact abstracts, most truncated at the model's 256 tokens
(8 clients × 8-abstract requests). Passes alternate between the budgets; each row is the
median pass, against the server's default budget in the same run.
"""

from __future__ import annotations

import argparse

from benchmarks.batch_plans import padded_tokens, rates, server_plan
from benchmarks.common import (
    exported_model,
    machine,
    scifact_abstracts,
    stsb_sentences,
    table,
    write_section,
)

BUDGETS = (256, 512, 1024, 4096, 16384)
CLIENTS = 8
CORES = 2
ABSTRACTS = 400
# (traffic, inputs per request)
TRAFFICS = (("STSb sentences", 32), ("SciFact abstracts", 8))
GRAPHS = (("fp32", False), ("int8", True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passes", type=int, default=3, help="timed passes of each budget, alternated")
    parser.add_argument("--quick", action="store_true", help="a tenth of the texts, one pass: a smoke run")
    args = parser.parse_args()

    from embedtune_server.backend import OnnxBackend
    from embedtune_server.backend.onnx_backend import resolve_parallelism
    from embedtune_server.settings import ServerSettings

    limits = ServerSettings()
    budgets = sorted({*BUDGETS, limits.max_batch_tokens})
    texts = {"STSb sentences": stsb_sentences("dev"), "SciFact abstracts": scifact_abstracts(ABSTRACTS)}
    if args.quick:
        texts = {name: items[: len(items) // 10] for name, items in texts.items()}
        args.passes = 1
    folder = exported_model(None)
    streams, threads = resolve_parallelism(0, 0, CORES)
    rows = []
    for graph, quantized in GRAPHS:
        backend = OnnxBackend(folder, quantized=quantized, streams=streams, intra_op_threads=threads)
        for traffic, request_size in TRAFFICS:
            token_ids = backend.tokenizer.encode(texts[traffic])
            plans = [
                server_plan(token_ids, CLIENTS, request_size, limits.max_batch_requests, budget)
                for budget in budgets
            ]
            speeds = rates(backend, plans, len(token_ids), args.passes)
            default = speeds[budgets.index(limits.max_batch_tokens)]
            real = sum(map(len, token_ids))
            for budget, plan, speed in zip(budgets, plans, speeds, strict=True):
                batches = sum(map(len, plan))
                name = f"{budget} (default)" if budget == limits.max_batch_tokens else str(budget)
                rows.append(
                    [
                        graph,
                        traffic,
                        name,
                        batches,
                        f"{len(token_ids) / batches:.1f}",
                        f"{100 * (padded_tokens(plan) - real) / real:.1f}%",
                        f"{speed:.1f}",
                        f"{speed / default:.2f}×",
                    ]
                )
                print(" | ".join(str(c) for c in rows[-1]))
    command = "`.venv/bin/python -m benchmarks.batch_budget" + (
        f" --passes {args.passes}`" if args.passes != 3 else "`"
    )
    body = "\n\n".join(
        [
            f"{command} — the server's batch cutter (max_batch_requests {limits.max_batch_requests}) "
            f"replayed on a saturated queue of {CLIENTS} clients for each token budget, its batches timed "
            f"on the server's backend ({streams} streams of {threads} thread, its layout on {CORES} cores). "
            f"{len(texts['STSb sentences'])} STSb dev sentences in {TRAFFICS[0][1]}-sentence requests; "
            f"the first {len(texts['SciFact abstracts'])} SciFact abstracts (title and text, truncated at "
            f"the model's max_seq_length) in {TRAFFICS[1][1]}-abstract requests. Passes alternated between "
            f"the budgets, median of {args.passes}; each row against the default budget "
            f"({limits.max_batch_tokens}) of its graph and traffic, in the same run. Machine: {machine()}.",
            table(
                [
                    "graph",
                    "traffic",
                    "max_batch_tokens",
                    "batches",
                    "inputs per batch",
                    "padding over real tokens",
                    "texts/s",
                    "vs default",
                ],
                rows,
            ),
        ]
    )
    if not args.quick:
        write_section("Token budget per batch", body)


if __name__ == "__main__":
    main()
