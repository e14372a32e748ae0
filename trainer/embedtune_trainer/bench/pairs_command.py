"""`embedtune bench pairs`: run `bench.pairs`, print the table, write pairs.json and pairs.png.

The sentences are STSb's (train, dev and test CSVs as found under --stsb, in that
order, each sentence once) unless --sentences names a file with one sentence a line.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from pathlib import Path
from typing import Any

from embedtune_trainer.bench.machine import machine

DEFAULT_NS = "100,1000,10000"
DEFAULT_BUDGET_S = 60.0
DEFAULT_CORPUS = 100_000
STSB_SPLITS = ("train", "dev", "test")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "pairs",
        help="the most similar pair among N sentences: bi-encoder vs cross-encoder, timed on this machine",
        description=__doc__,
    )
    parser.add_argument("--bi-encoder", required=True, type=Path, help="an exported bi-encoder folder")
    parser.add_argument("--cross-encoder", required=True, type=Path, help="an exported cross-encoder folder")
    parser.add_argument(
        "--n", default=DEFAULT_NS, help=f"sentence counts, comma-separated (default {DEFAULT_NS})"
    )
    parser.add_argument(
        "--budget-s",
        type=float,
        default=DEFAULT_BUDGET_S,
        help="seconds the cross-encoder may run per experiment; the rest is extrapolated",
    )
    parser.add_argument("--sentences", type=Path, help="a text file, one sentence a line (default: STSb)")
    parser.add_argument(
        "--stsb",
        type=Path,
        default=Path(os.environ.get("EMBEDTUNE_SHARED_DATA", "../shared/data")) / "stsb",
        help="the STSb folder (en-train.csv, en-dev.csv, ...); default $EMBEDTUNE_SHARED_DATA/stsb",
    )
    parser.add_argument(
        "--corpus",
        type=int,
        nargs="?",
        const=DEFAULT_CORPUS,
        help=f"also: one query against a corpus of this many documents (default {DEFAULT_CORPUS:,})",
    )
    parser.add_argument("--int8", action="store_true", help="run both models' int8 graphs")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="ONNX Runtime threads")
    parser.add_argument("--output", type=Path, default=Path("."), help="folder for pairs.json and pairs.png")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from embedtune_trainer.bench.onnx_runners import OnnxBiEncoder, OnnxCrossEncoder
    from embedtune_trainer.bench.pairs import build_corpus, corpus_experiment, pairs_experiment
    from embedtune_trainer.bench.plot import PlotUnavailableError, plot_pairs

    try:
        ns = [int(part) for part in args.n.split(",") if part.strip()]
        sentences = read_sentences(args.sentences) if args.sentences else stsb_sentences(args.stsb)
        too_many = [n for n in ns if n > len(sentences) or n < 2]
        if too_many:
            raise ValueError(f"--n {too_many[0]}: needs 2 to {len(sentences)} (the sentences available)")
        bi = OnnxBiEncoder(args.bi_encoder, args.int8, args.threads, args.batch_size)
        cross = OnnxCrossEncoder(args.cross_encoder, args.int8, args.threads, args.batch_size)
    except (ValueError, FileNotFoundError) as exc:
        print(f"embedtune bench pairs: error: {exc}", file=sys.stderr)
        return 2
    records = [pairs_experiment(bi, cross, sentences, n, args.budget_s) for n in ns]
    corpus = None
    if args.corpus:
        documents = build_corpus(sentences, args.corpus)
        corpus = corpus_experiment(bi, cross, sentences[0], documents, args.budget_s)
    report: dict[str, Any] = {
        "machine": machine(),
        "bi_encoder": str(args.bi_encoder),
        "cross_encoder": str(args.cross_encoder),
        "graphs": "int8" if args.int8 else "fp32",
        "threads": args.threads,
        "batch_size": args.batch_size,
        "budget_s": args.budget_s,
        "sentences": str(args.sentences or args.stsb),
        "records": [r.as_dict() for r in records],
        "corpus": corpus.as_dict() if corpus else None,
    }
    print(format_table(records, corpus))
    args.output.mkdir(parents=True, exist_ok=True)
    (args.output / "pairs.json").write_text(json.dumps(report, indent=2) + "\n")
    try:
        plot_pairs(records, args.output / "pairs.png", f"most similar pair — {report['machine']}")
    except PlotUnavailableError as exc:
        print(f"embedtune bench pairs: {exc}", file=sys.stderr)
    print(f"wrote {args.output / 'pairs.json'}")
    return 0


def format_table(records: list, corpus: Any = None) -> str:
    header = ("N", "pairs", "bi-encoder s", "cross-encoder s", "cross / bi", "same pair")
    rows = [
        (
            f"{r.n:,}",
            f"{r.pairs:,}",
            f"{r.bi_s:.3f}",
            f"{r.cross_s:,.1f}" + (" (extrapolated)" if r.cross_extrapolated else ""),
            f"{r.ratio:,.0f}",
            "-" if r.same_pair is None else ("yes" if r.same_pair else "no"),
        )
        for r in records
    ]
    widths = [max(len(str(c)) for c in column) for column in zip(header, *rows, strict=True)]
    lines = ["  ".join(f"{c:>{w}}" for c, w in zip(line, widths, strict=True)) for line in (header, *rows)]
    if corpus is not None:
        lines.append(
            f"one query, {corpus.documents:,} documents: FAISS {corpus.faiss_search_s:.4f} s "
            f"(corpus encoded once in {corpus.encode_corpus_s:.1f} s), cross-encoder {corpus.cross_s:,.1f} s"
            + (" (extrapolated)" if corpus.cross_extrapolated else "")
            + f", ratio {corpus.ratio:,.0f}"
        )
    return "\n".join(lines)


def read_sentences(path: Path) -> list[str]:
    lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    sentences = list(dict.fromkeys(line for line in lines if line))
    if len(sentences) < 2:
        raise ValueError(f"{path}: needs at least 2 distinct non-empty lines, found {len(sentences)}")
    return sentences


def stsb_sentences(folder: Path) -> list[str]:
    files = [folder / f"en-{split}.csv" for split in STSB_SPLITS if (folder / f"en-{split}.csv").is_file()]
    if not files:
        raise FileNotFoundError(f"no STSb CSVs in {folder}; pass --stsb FOLDER or --sentences FILE")
    sentences: dict[str, None] = {}
    for file in files:
        with file.open(newline="", encoding="utf-8") as handle:
            for row in csv.reader(handle):
                sentences.update(dict.fromkeys(row[:2]))
    return list(sentences)
