"""Sentences/s of our encoders beside sentence-transformers' `encode`, same machine, same run.

    .venv/bin/python -m benchmarks.encode [--quick]

Encodes the STSb dev sentences (batch 32, 2 threads) with sentence-transformers, our
PyTorch `SentenceEncoder`, and the server's ONNX Runtime backend in fp32 and int8,
and records speed and agreement with the reference in docs/benchmarks.md.
Each system runs `--repeats` timed passes after a warm-up, alternating, best pass kept.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from benchmarks.common import cosines, machine, stsb_sentences, table, write_section

THREADS = 2
BATCH = 32


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="320 sentences, one pass: a smoke run")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", str(THREADS))

    import torch
    from sentence_transformers import SentenceTransformer

    from embedtune_server.backend import OnnxBackend
    from embedtune_server.backend.onnx_backend import resolve_parallelism
    from embedtune_trainer import SentenceEncoder
    from embedtune_trainer.export import export_model_folder

    torch.set_num_threads(THREADS)
    sentences = stsb_sentences("dev")
    if args.quick:
        sentences, args.repeats = sentences[:320], 1
    folder = Path(tempfile.mkdtemp(prefix="embedtune-bench-")) / "model"
    export_model_folder("default", output=folder, quantize=True)

    reference = SentenceTransformer(str(folder), device="cpu")
    ours = SentenceEncoder.load(folder)
    # What the server picks by itself on THREADS cores, spelled out for bigger machines.
    streams, per_stream = resolve_parallelism(0, 0, THREADS)
    fp32 = OnnxBackend(folder, streams=streams, intra_op_threads=per_stream)
    int8 = OnnxBackend(folder, quantized=True, streams=streams, intra_op_threads=per_stream)
    # The same int8 graph in one session with all the threads: what the streams are measured against.
    int8_one_session = OnnxBackend(folder, quantized=True, streams=1, intra_op_threads=THREADS)
    systems: dict[str, Callable[[list[str]], np.ndarray]] = {
        "sentence-transformers encode (reference)": lambda t: reference.encode(t, batch_size=BATCH),
        "embedtune SentenceEncoder (torch)": lambda t: ours.encode(t, batch_size=BATCH),
        "embedtune ONNX Runtime fp32": lambda t: fp32.encode(t, batch_size=BATCH),
        "embedtune ONNX Runtime int8": lambda t: int8.encode(t, batch_size=BATCH),
        f"embedtune ONNX Runtime int8, one {THREADS}-thread session": lambda t: int8_one_session.encode(
            t, batch_size=BATCH
        ),
    }
    best = {name: float("inf") for name in systems}
    outputs = {}
    for name, run in systems.items():
        outputs[name] = run(sentences[:64])  # warm-up
    for _ in range(args.repeats):
        for name, run in systems.items():
            start = time.perf_counter()
            outputs[name] = run(sentences)
            best[name] = min(best[name], time.perf_counter() - start)

    ref_name = next(iter(systems))
    ref_rate = len(sentences) / best[ref_name]
    rows = []
    for name in systems:
        rate = len(sentences) / best[name]
        a, b = outputs[name], outputs[ref_name]
        cos = cosines(a, b)
        rows.append([name, f"{rate:.0f}", f"{rate / ref_rate:.2f}×", f"{cos.mean():.5f}", f"{cos.min():.5f}"])
        print(f"{name:45s} {rate:7.1f} sentences/s  {rate / ref_rate:5.2f}×  mean cos {cos.mean():.5f}")
    if args.quick:
        return
    body = "\n\n".join(
        [
            f"`.venv/bin/python -m benchmarks.encode` — {len(sentences)} STSb dev sentences, batch {BATCH}, "
            f"{THREADS} threads (torch: {THREADS} intra-op threads; ONNX Runtime: {streams} streams of "
            f"{per_stream} thread(s), the server's default on {THREADS} cores), "
            f"best of {args.repeats} passes after a warm-up. "
            f"Machine: {machine()}.",
            table(
                ["system", "sentences/s", "vs reference", "mean cosine to reference", "min cosine"],
                rows,
            ),
            "Targets (issue 2): ONNX int8 ≥ 2.5×, ONNX fp32 ≥ 1.2×, torch ≥ 1.0× the reference.",
        ]
    )
    write_section("Encoding throughput (in process)", body)


if __name__ == "__main__":
    main()
