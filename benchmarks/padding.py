"""Padded tokens of each batching rule on the STSb dev sentences, and what they cost in speed.

    .venv/bin/python -m benchmarks.padding [--passes N]

Two cases, each counted exactly and then timed:

1. in process, batches of 32 after sorting by characters (sentence-transformers)
   or by tokens (embedtune's `encode` and ONNX backend);
2. the server's batch cutter, with today's bound (a thirty-second of the longest, or
   1 token) and two earlier ones (an eighth, or 2 tokens; half, or 16 tokens), on
   a saturated queue (8 clients, each keeping one 32-sentence request waiting; a
   request's inputs join the queue when the previous one has been cut) and for one
   client (each 32-sentence request alone, its batches finished before the next).

Timing runs the batches on the server's int8 backend (2 one-thread streams, batches
handed to whichever stream is free), passes alternated between the plans, median
pass; the reference is the in-process plan sorted by tokens, in the same run.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from benchmarks.batch_plans import Plan, padded_tokens, rates, server_plan
from benchmarks.common import (
    machine,
    sorted_batches,
    stsb_sentences,
    table,
    write_section,
)

BATCH = 32
CLIENTS = 8
CORES = 2
RULES = {
    "a thirty-second of the longest, or 1 token (now)": (32, 1),
    "an eighth of the longest, or 2 tokens (before)": (8, 2),
    "half the longest, or 16 tokens (first)": (2, 16),
}


def sorted_plan(token_ids: list[np.ndarray], keys: list[int]) -> Plan:
    """Batches of BATCH in descending `keys` order, as one group (nothing waits between them)."""
    return [sorted_batches(token_ids, keys, BATCH)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passes", type=int, default=3, help="timed passes of each plan, alternated")
    args = parser.parse_args()

    from embedtune_server.backend import OnnxBackend
    from embedtune_server.backend.onnx_backend import resolve_parallelism
    from embedtune_server.settings import ServerSettings
    from embedtune_trainer.export import export_model_folder

    folder = Path(tempfile.mkdtemp(prefix="embedtune-bench-")) / "model"
    export_model_folder("default", output=folder, quantize=True)
    limits = ServerSettings()
    streams, threads = resolve_parallelism(0, 0, CORES)
    backend = OnnxBackend(folder, quantized=True, streams=streams, intra_op_threads=threads)
    sentences = stsb_sentences("dev")
    token_ids = backend.tokenizer.encode(sentences)
    lengths = [len(ids) for ids in token_ids]
    real = sum(lengths)

    plans = {
        "in process, sorted by tokens (reference)": sorted_plan(token_ids, lengths),
        "in process, sorted by characters": sorted_plan(token_ids, [len(s) for s in sentences]),
    }
    for clients, case in ((CLIENTS, f"server, {CLIENTS} clients"), (1, "server, 1 client")):
        for name, (share, slack) in RULES.items():
            plans[f"{case}: {name}"] = server_plan(
                token_ids, clients, BATCH, limits.max_batch_requests, limits.max_batch_tokens, (share, slack)
            )
    speeds = rates(backend, list(plans.values()), len(sentences), args.passes)
    rows = []
    for (name, plan), speed in zip(plans.items(), speeds, strict=True):
        padded = padded_tokens(plan)
        batches = sum(map(len, plan))
        share = f"{100 * (padded - real) / real:.1f}%"
        rows.append([name, padded, share, batches, f"{speed:.0f}", f"{speed / speeds[0]:.3f}×"])
        print(" | ".join(str(c) for c in rows[-1]))
    body = "\n\n".join(
        [
            f"`.venv/bin/python -m benchmarks.padding` — {len(sentences)} STSb dev sentences, {real} real "
            f"tokens (bundled model's tokenizer). In process: batches of {BATCH}. Server: the batch cutter "
            f"(its defaults: max_batch_requests {limits.max_batch_requests}, max_batch_tokens "
            f"{limits.max_batch_tokens}) on a saturated "
            f"queue of {CLIENTS} clients × {BATCH}-sentence requests, and for one client whose requests each "
            f"finish before the next. Token counts are exact; sentences/s runs every plan's batches on the "
            f"int8 backend ({streams} streams of {threads} thread), passes alternated, median of "
            f"{args.passes}. Machine: {machine()}.",
            table(
                [
                    "batching",
                    "padded tokens",
                    "padding over real tokens",
                    "batches",
                    "sentences/s",
                    "vs reference",
                ],
                rows,
            ),
        ]
    )
    write_section("Padding by batching rule", body)


if __name__ == "__main__":
    main()
