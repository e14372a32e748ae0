"""What each int8 recipe keeps of the fp32 embeddings, and what it runs at.

    .venv/bin/python -m benchmarks.int8_variants [--quick]

Builds five int8 graphs of the bundled model and compares each with the fp32 graph
on STSb dev sentences (short) and SciFact abstracts (long, technical; truncated to
256 tokens): mean and min cosine to fp32, and sentences/s on STSb (the server's
backend, 2 one-thread streams, batch 32; passes alternated between the graphs, median of 5):

1. ONNX Runtime's plain dynamic int8 (weights per tensor, full range);
2. weights per channel with reduced range, every MatMul;
3. as 2, with the feed-forward down-projections left fp32 (our earlier recipe);
4. as 2, with the down-projections' outlier input channels split off into fp32
   (our recipe: embedtune_trainer/export/quantize.py);
5. as 4, with exact GELU kept instead of FastGelu.

Every graph but the last has its GELU as FastGelu, as the shipped int8 graph does, so
rows 1-4 differ only in how they quantise.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import tempfile
from collections.abc import Callable
from functools import partial
from pathlib import Path

from benchmarks.common import (
    alternated_medians,
    cosines,
    machine,
    scifact_abstracts,
    stsb_sentences,
    table,
    write_section,
)

STREAMS = 2
BATCH = 32


def quantizers(folder: Path) -> dict[str, Callable[[Path, Path], None]]:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from embedtune_trainer import SentenceEncoder
    from embedtune_trainer.export.calibration import calibration_batches
    from embedtune_trainer.export.gelu_approximation import with_fast_gelu
    from embedtune_trainer.export.quantize import down_projections, quantize_int8

    def ort_dynamic(**options) -> Callable[[Path, Path], None]:
        def run(source: Path, target: Path) -> None:
            quantize_dynamic(str(source), str(target), op_types_to_quantize=["MatMul"], **options)
            with_fast_gelu(target)

        return run

    per_channel = {"weight_type": QuantType.QInt8, "per_channel": True, "reduce_range": True}
    down = [n.name for n in down_projections(onnx.load(str(folder / "onnx" / "model.onnx")))]
    calibration = calibration_batches(SentenceEncoder.load(folder))
    return {
        "plain dynamic int8 (per-tensor weights)": ort_dynamic(weight_type=QuantType.QInt8),
        "per-channel reduced-range, every MatMul": ort_dynamic(**per_channel),
        "per-channel, down-projections fp32": ort_dynamic(**per_channel, nodes_to_exclude=down),
        "per-channel, down-projection outliers split to fp32 (ours)": lambda s, t: quantize_int8(
            s, t, calibration
        ),
        "ours with exact GELU (no FastGelu)": lambda s, t: quantize_int8(s, t, calibration, fast_gelu=False),
    }


def rates(backends: list, sentences: list[str], passes: int) -> list[float]:
    """Sentences/s of each backend: median of passes alternated between the backends."""
    runs = [partial(backend.encode, sentences, batch_size=BATCH) for backend in backends]
    return [len(sentences) / seconds for seconds in alternated_medians(runs, passes)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="300 sentences, 50 abstracts, one pass")
    parser.add_argument("--repeats", type=int, default=5, help="timed passes of each graph, alternated")
    args = parser.parse_args()
    logging.getLogger().setLevel(logging.ERROR)  # onnxruntime's per-call pre-processing hint

    from embedtune_server.backend import OnnxBackend
    from embedtune_trainer.export import export_model_folder

    sentences, abstracts = stsb_sentences("dev"), scifact_abstracts(300)
    if args.quick:
        sentences, abstracts, args.repeats = sentences[:300], abstracts[:50], 1
    root = Path(tempfile.mkdtemp(prefix="embedtune-bench-"))
    folder = root / "model"
    export_model_folder("default", output=folder)
    backends = {"fp32 (reference)": OnnxBackend(folder, streams=STREAMS, intra_op_threads=1)}
    for name, quantize in quantizers(folder).items():
        variant = root / f"variant-{len(backends)}"
        shutil.copytree(folder, variant)
        quantize(folder / "onnx" / "model.onnx", variant / "onnx" / "model_qint8.onnx")
        backends[name] = OnnxBackend(variant, quantized=True, streams=STREAMS, intra_op_threads=1)
    fp32 = backends["fp32 (reference)"]
    reference = {"stsb": fp32.encode(sentences), "scifact": fp32.encode(abstracts)}
    speeds = rates(list(backends.values()), sentences, args.repeats)
    rows = []
    for (name, backend), speed in zip(backends.items(), speeds, strict=True):
        short = cosines(backend.encode(sentences), reference["stsb"])
        long = cosines(backend.encode(abstracts), reference["scifact"])
        rows.append(
            [
                name,
                f"{short.mean():.5f}",
                f"{short.min():.5f}",
                f"{long.mean():.5f}",
                f"{long.min():.5f}",
                f"{speed:.0f}",
                f"{speed / speeds[0]:.2f}×",
            ]
        )
        print(" | ".join(str(c) for c in rows[-1]))
    if args.quick:
        return
    body = "\n\n".join(
        [
            f"`.venv/bin/python -m benchmarks.int8_variants` — cosine of each int8 graph's embeddings to "
            f"the fp32 graph's on {len(sentences)} STSb dev sentences and {len(abstracts)} SciFact "
            f"abstracts (truncated at 256 tokens); sentences/s on STSb with the server's backend "
            f"({STREAMS} one-thread streams, batch {BATCH}; passes alternated between the graphs, median of "
            f"{args.repeats}). Machine: {machine()}.",
            table(
                [
                    "int8 recipe",
                    "STSb mean cos",
                    "STSb min cos",
                    "SciFact mean cos",
                    "SciFact min cos",
                    "sentences/s",
                    "vs fp32",
                ],
                rows,
            ),
        ]
    )
    write_section("int8 recipes: accuracy and speed", body)


if __name__ == "__main__":
    main()
