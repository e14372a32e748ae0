"""SciFact retrieval before and after fine-tuning on mined triplets: TripletLoss vs MNRL.

    flock /tmp/embedtune-bench.lock .venv/bin/python -m benchmarks.scifact_triplets [--quick]

From SciFact's train split: each query with its cited abstract as the positive, and a
hard negative mined from the bundled encoder's top-k over the whole corpus (skipping the
query's cited abstracts and anything within the margin of the positive's score). 20% of
the queries (seeded) are held out; NDCG@10 over the full corpus is measured on them
before training and after training from the same base with each loss.

A full run takes over 30 minutes on 2 busy cores (the 5,183 abstracts are embedded four
times: mining, before, and after each loss); each figure is printed as soon as it exists.
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
from pathlib import Path

from benchmarks.common import machine, shared_data, table, write_section

THREADS = 2
SEED = 42
HELD_OUT = 0.2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="80 train queries, 40 held out, 600 documents")
    parser.add_argument("--epochs", type=float, default=1.0)
    parser.add_argument(
        "--distractors",
        type=int,
        default=None,
        help="corpus = every judged abstract plus this many others (default: the whole corpus)",
    )
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", str(THREADS))
    folder = shared_data("scifact")

    import datasets
    import torch

    from embedtune_trainer.encoder import SentenceEncoder
    from embedtune_trainer.evaluation import RetrievalEvaluator
    from embedtune_trainer.evaluation.loading import read_beir_corpus, read_beir_queries, read_qrels
    from embedtune_trainer.training import MiningSettings, TrainSettings, train
    from embedtune_trainer.training.mining import mine_hard_negatives

    torch.set_num_threads(THREADS)
    corpus = read_beir_corpus(folder / "corpus.jsonl")
    queries = read_beir_queries(folder / "queries-train.jsonl")
    qrels = read_qrels(folder / "qrels-train.tsv")
    judged = sorted(q for q in qrels if q in queries)
    random.Random(SEED).shuffle(judged)
    cut = int(len(judged) * (1 - HELD_OUT))
    train_ids, test_ids = judged[:cut], judged[cut:]
    if args.quick:
        train_ids, test_ids = train_ids[:80], test_ids[:40]
        corpus = _subset(corpus, qrels, train_ids + test_ids, extra=600)
    subset = args.distractors is not None and not args.quick
    if subset:
        corpus = _subset(corpus, qrels, train_ids + test_ids, extra=args.distractors)

    evaluator = RetrievalEvaluator(corpus, {q: queries[q] for q in test_ids}, {q: qrels[q] for q in test_ids})
    base = SentenceEncoder.load("default")
    started = time.perf_counter()
    pairs = datasets.Dataset.from_list(
        [{"anchor": queries[q], "positive": corpus[d]} for q in train_ids for d in qrels[q] if d in corpus]
    )
    triplets, report = mine_hard_negatives(
        base, pairs, MiningSettings(top_k=10, margin=0.05), corpus=list(corpus.values()), show_progress=True
    )
    mining_seconds = time.perf_counter() - started
    print(f"mined {report.triplets} triplets from {report.pairs} pairs in {mining_seconds:.0f} s", flush=True)
    before = evaluator(base)
    print(f"before: {before}", flush=True)

    work = Path(tempfile.mkdtemp(prefix="embedtune-scifact-"))
    after = {}
    for loss in ("TripletLoss", "MultipleNegativesRankingLoss"):
        train(
            TrainSettings(
                data=triplets,
                output=work / loss,
                loss=loss,
                base="default",
                epochs=args.epochs,
                batch_size=16,
                learning_rate=2e-5,
                warmup_ratio=0.1,
                seed=SEED,
                export_onnx=False,
            )
        )
        after[loss] = evaluator(SentenceEncoder.load(work / loss))
        print(f"after {loss}: {after[loss]}", flush=True)

    rows = [["bundled all-MiniLM-L6-v2 (before)", *_scores(before)]]
    rows += [[f"after {loss}", *_scores(scores)] for loss, scores in after.items()]
    body = "\n".join(
        [
            "```",
            "flock /tmp/embedtune-bench.lock .venv/bin/python -m benchmarks.scifact_triplets"
            + (" --quick" if args.quick else "")
            + (f" --distractors {args.distractors}" if subset else ""),
            "```",
            "",
            f"Machine: {machine()}; {THREADS} torch threads. "
            f"{len(train_ids)} training queries → {report.triplets} mined triplets "
            f"({report.anchors_without_negative} pairs without a negative, mining {mining_seconds:.0f} s); "
            f"{len(test_ids)} held-out queries over {len(corpus)} documents"
            + (" (quick smoke run: subsets)." if args.quick else "."),
            f"Training: {args.epochs:g} epoch, batch 16, lr 2e-5, 10% warm-up, seed {SEED}, "
            "each loss from the base.",
            "",
            table(["model", "NDCG@10", "MRR@10", "Recall@10", "MAP@100"], rows),
        ]
    )
    write_section("SciFact: mined triplets, TripletLoss vs MultipleNegativesRankingLoss", body)
    print(body)


def _subset(corpus: dict[str, str], qrels, query_ids: list[str], extra: int) -> dict[str, str]:
    """The judged documents of `query_ids` plus `extra` others (seeded): a smaller corpus."""
    keep = {d for q in query_ids for d in qrels[q]}
    others = sorted(set(corpus) - keep)
    keep |= set(random.Random(SEED).sample(others, min(extra, len(others))))
    return {d: corpus[d] for d in corpus if d in keep}


def _scores(scores: dict[str, float]) -> list[str]:
    return [f"{scores[k]:.4f}" for k in ("ndcg@10", "mrr@10", "recall@10", "map@100")]


if __name__ == "__main__":
    main()
