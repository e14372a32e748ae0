"""Which ONNX Runtime graph fusions pay on this CPU, and where an int8 forward pass spends its time.

    .venv/bin/python -m benchmarks.ort_fusions [--quick]

Runs the bundled model's exported graphs in one-thread sessions (one inference stream)
over the STSb dev sentences (sorted by tokens, batch 32): ONNX Runtime's default (every
fusion), the backend's setting (`DISABLED_OPTIMIZERS` in onnx_backend.py), and the
backend's setting with one more fusion turned off. Passes alternate between the
sessions, each pass starting one session later, so a slow spell of the machine
or a place in the order favours none; the median pass is reported,
with the ratio to ORT's default and the mean cosine to its embeddings. A profiled pass
of each int8 session then gives each operator's share of kernel time.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections import Counter
from functools import partial
from pathlib import Path

import numpy as np

from benchmarks.common import (
    alternated_medians,
    cosines,
    machine,
    sorted_batches,
    stsb_sentences,
    table,
    write_section,
)

BATCH = 32
OUTPUT = "sentence_embedding"
INPUTS = {"input_ids", "attention_mask", "token_type_ids"}
# Fusions whose kernels the int8 graph runs, each measured switched off on top of the backend's setting.
# (Its GELU is already FastGelu, written by the export, so GeluFusion has nothing to fuse.)
CANDIDATES = ("MatmulTransposeFusion", "DynamicQuantizeMatMulFusion")
TOP_OPERATORS = 8


def batches(folder: Path, sentences: list[str]) -> list[dict[str, np.ndarray]]:
    """Graph inputs for batches of BATCH sentences of similar token counts, as the backend forms them."""
    from embedtune_server.backend.onnx_backend import padded_feeds
    from embedtune_server.backend.tokenizer import TextTokenizer

    tokenizer = TextTokenizer.from_model_dir(folder)
    token_ids = tokenizer.encode(sentences)
    lengths = [len(ids) for ids in token_ids]
    return [
        padded_feeds(batch, tokenizer.pad_token_id, INPUTS)
        for batch in sorted_batches(token_ids, lengths, BATCH)
    ]


def session(graph: Path, disabled: list[str], profile: bool = False):
    """A one-thread session (one inference stream) with `disabled` graph fusions off."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if profile:
        options.enable_profiling = True
        options.profile_file_prefix = str(Path(tempfile.mkdtemp(prefix="embedtune-ort-profile-")) / "run")
    return ort.InferenceSession(
        str(graph), options, providers=["CPUExecutionProvider"], disabled_optimizers=disabled
    )


def run_all(sess, feeds: list[dict[str, np.ndarray]]) -> np.ndarray:
    names = {i.name for i in sess.get_inputs()}
    return np.concatenate([sess.run([OUTPUT], {k: v for k, v in f.items() if k in names})[0] for f in feeds])


def operator_shares(graph: Path, disabled: list[str], feeds: list[dict[str, np.ndarray]]) -> Counter:
    """Share of kernel time by operator type over one profiled pass of a fresh session.

    Shares, not times: the first pass also pays for allocations, which land outside kernels.
    """
    sess = session(graph, disabled, profile=True)
    run_all(sess, feeds)
    events = json.loads(Path(sess.end_profiling()).read_text())
    totals: Counter = Counter()
    for event in events:
        if event.get("cat") == "Node" and event["name"].endswith("_kernel_time"):
            totals[event["args"]["op_name"]] += event["dur"]
    whole = sum(totals.values())
    return Counter({op: dur / whole for op, dur in totals.items()})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="320 sentences, one pass: a smoke run")
    parser.add_argument("--passes", type=int, default=6)
    args = parser.parse_args()

    from embedtune_server.backend.onnx_backend import DISABLED_OPTIMIZERS
    from embedtune_trainer.export import export_model_folder

    sentences = stsb_sentences("dev")
    if args.quick:
        sentences, args.passes = sentences[:320], 1
    folder = Path(tempfile.mkdtemp(prefix="embedtune-bench-")) / "model"
    export_model_folder("default", output=folder, quantize=True)
    feeds = batches(folder, sentences)
    int8, fp32 = folder / "onnx" / "model_qint8.onnx", folder / "onnx" / "model.onnx"
    ours = list(DISABLED_OPTIMIZERS)
    variants = [
        ("int8", "ORT default (every fusion)", int8, []),
        ("int8", f"backend: without {', '.join(ours)}", int8, ours),
        *[("int8", f"backend, also without {name}", int8, [*ours, name]) for name in CANDIDATES],
        ("fp32", "ORT default (every fusion)", fp32, []),
        ("fp32", f"backend: without {', '.join(ours)}", fp32, ours),
    ]
    sessions = [session(graph, disabled) for _, _, graph, disabled in variants]
    outputs = [run_all(sess, feeds) for sess in sessions]
    seconds = alternated_medians([partial(run_all, sess, feeds) for sess in sessions], args.passes)
    rows = []
    for i, (graph_name, label, _, _) in enumerate(variants):
        baseline = next(j for j, v in enumerate(variants) if v[0] == graph_name)
        rate = len(sentences) / seconds[i]
        base_rate = len(sentences) / seconds[baseline]
        agreement = cosines(outputs[i], outputs[baseline]).mean()
        rows.append([graph_name, label, f"{rate:.0f}", f"{rate / base_rate:.3f}×", f"{agreement:.5f}"])
        print(f"{graph_name} {label:55s} {rate:6.1f}/s {rate / base_rate:.3f}× cos {agreement:.5f}")

    shares = {"ORT default": operator_shares(int8, [], feeds), "backend": operator_shares(int8, ours, feeds)}
    top = [op for op, _ in (shares["ORT default"] + shares["backend"]).most_common(TOP_OPERATORS)]
    share_rows = [[op, *(f"{s[op]:.1%}" for s in shares.values())] for op in top]
    for row in share_rows:
        print("  ".join(row))
    if args.quick:
        return
    body = "\n\n".join(
        [
            f"`.venv/bin/python -m benchmarks.ort_fusions` — {len(sentences)} STSb dev sentences sorted by "
            f"tokens, batch {BATCH}, one-thread sessions (one inference stream each), passes alternated "
            f"between the sessions, median of {args.passes} after a warm-up; each row against ORT's default "
            f"for its graph in the same run. Machine: {machine()}.",
            table(["graph", "session", "sentences/s", "vs ORT default", "mean cosine to ORT default"], rows),
            "Share of kernel time by operator, one profiled pass of the int8 graph:",
            table(["operator", *[f"{name} session" for name in shares]], share_rows),
        ]
    )
    write_section("ONNX Runtime fusions", body)


if __name__ == "__main__":
    main()
