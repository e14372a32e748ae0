"""The most similar pair among N STSb sentences: the bundled bi-encoder against a cross-encoder.

    flock /tmp/embedtune-bench.lock .venv/bin/python -m benchmarks.pairs --cross-encoder DIR [--corpus]

Runs `embedtune bench pairs` (see embedtune_trainer/bench/pairs.py for the experiment)
with the bundled all-MiniLM-L6-v2, exported into .bench/, as the bi-encoder unless
--bi-encoder names another, writes pairs.json and pairs.png into .bench/pairs/ (or
--output), and records the table in docs/benchmarks.md beside the paper's claim.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from benchmarks.common import REPO, SHARED_DATA, machine, table, write_section

BENCH = REPO / ".bench"
PAPER = "about 65 hours (cross-encoder, BERT) vs about 5 seconds (bi-encoder), 10,000 sentences, one V100 GPU"


def main() -> int:
    from embedtune_trainer.bench import pairs_command

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="experiment")
    pairs_command.register(sub)
    argv = sys.argv[1:]
    if "--bi-encoder" not in argv:
        argv += ["--bi-encoder", str(_bundled_bi_encoder())]
    if "--output" not in argv:
        argv += ["--output", str(BENCH / "pairs")]
    if "--sentences" not in argv and "--stsb" not in argv:
        argv += ["--stsb", str(SHARED_DATA / "stsb")]
    args = parser.parse_args(["pairs", *argv])
    status = pairs_command.run(args)
    if status == 0:
        _record(json.loads((args.output / "pairs.json").read_text()), sys.argv[1:])
    return status


def _bundled_bi_encoder() -> Path:
    from embedtune_trainer.export import export_model_folder

    folder = BENCH / "pairs-bi-encoder"
    if not (folder / "onnx" / "model_qint8.onnx").is_file():
        export_model_folder("default", output=folder, quantize=True)
    return folder


def _record(report: dict, argv: list[str]) -> None:
    rows = [
        [
            f"{r['n']:,}",
            f"{r['pairs']:,}",
            f"{r['bi_s']:.2f} s",
            _duration(r["cross_s"]) + (" (extrapolated)" if r["cross_extrapolated"] else ""),
            f"{r['ratio']:,.0f}×",
            "—" if r["same_pair"] is None else ("yes" if r["same_pair"] else "no"),
            f"{r['cross_score_of_bi_pick']:.2f} / {r['cross_best_score']:.2f}",
        ]
        for r in report["records"]
    ]
    body = [
        f"Machine: {machine()}. ONNX Runtime, {report['threads']} threads, batch {report['batch_size']}, "
        f"{report['graphs']} graphs for both models; the cross-encoder runs at most "
        f"{report['budget_s']:.0f} s per N and the rest is extrapolated from its measured pairs/s.",
        "",
        "    flock /tmp/embedtune-bench.lock .venv/bin/python -m benchmarks.pairs " + shlex.join(argv),
        "",
        table(
            [
                "N",
                "pairs",
                "bi-encoder",
                "cross-encoder",
                "cross / bi",
                "same pair",
                "cross logit: bi's pick / best found",
            ],
            rows,
        ),
        "",
        f"The paper (Reimers and Gurevych 2019): {PAPER}.",
    ]
    corpus = report.get("corpus")
    if corpus:
        body += [
            "",
            f"One query against {corpus['documents']:,} documents: FAISS (exact inner product) "
            f"{corpus['faiss_search_s'] * 1000:.1f} ms for the query (the corpus was encoded once "
            f"beforehand, {_duration(corpus['encode_corpus_s'])}), cross-encoding every document "
            f"{_duration(corpus['cross_s'])}"
            + (" (extrapolated)" if corpus["cross_extrapolated"] else "")
            + f": {corpus['ratio']:,.0f}×.",
        ]
    write_section("Most similar pair: bi-encoder vs cross-encoder", "\n".join(body))


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


if __name__ == "__main__":
    sys.exit(main())
